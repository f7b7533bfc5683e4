// The Express app, built from its dependencies (buildApp) so that tests and the benchmark can start
// as many as they need: /graphql (Apollo Server), /health, /exports (CSV files).
import express from 'express';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import type { Bank } from '../bank.js';
import { authenticate } from '../auth/principal.js';
import { BankError } from '../errors.js';
import { createLoaders, type Context } from '../graphql/context.js';
import { formatError, toGraphQLError } from '../graphql/errors.js';
import { loadTypeDefs, resolvers } from '../graphql/schema.js';
import { exportRoutes } from './exports.js';

/** Request bodies larger than this are refused: a 1,000-award batch is about 300 KB. */
export const bodyBytesMax = '2mb';

export interface BuiltApp {
  app: express.Express;
  stop(): Promise<void>;
}

export async function buildApp(bank: Bank, log: (line: string) => void = console.error): Promise<BuiltApp> {
  const server = new ApolloServer<Context>({
    typeDefs: loadTypeDefs(),
    resolvers,
    formatError: formatError(log),
    introspection: !bank.config.production,
    includeStacktraceInErrorResponses: false,
  });
  await server.start();
  const app = express();
  app.disable('x-powered-by');
  app.get('/health', async (_req, res) => {
    try {
      await bank.knex.raw('SELECT 1');
      res.json({ status: 'ok' });
    } catch {
      res.status(503).json({ status: 'database unavailable' });
    }
  });
  exportRoutes(app, bank, log);
  app.use('/graphql', express.json({ limit: bodyBytesMax }), expressMiddleware(server, {
    context: async ({ req }) => {
      try {
        const principal = await authenticate(bank, req.headers.authorization);
        return { bank, principal, loaders: createLoaders(bank, principal) };
      } catch (error) {
        if (error instanceof BankError) throw toGraphQLError(error);
        throw error;
      }
    },
  }));
  return { app, stop: () => server.stop() };
}
