// One worker of test/http/clusterMetrics.test.ts: the service's app (its own pool and metrics) in a
// node:cluster worker, as WORKERS=N runs it; it tells the primary its port once it listens, and
// its own request count when asked.
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config.js';
import { openBank } from '../../src/bank.js';
import { buildApp } from '../../src/http/app.js';
import { createServiceMetrics } from '../../src/http/metrics.js';

const config = loadConfig({ ...process.env, SEED_DEMO: 'false', RATE_LIMIT_REQUESTS: '0', RATE_LIMIT_ANONYMOUS_REQUESTS: '0', DB_POOL_SIZE: '2' });
const bank = await openBank(config, process.env.CB_TEST_DATABASE_URL!);
const metrics = createServiceMetrics(bank, () => undefined);
const built = await buildApp(bank, () => undefined, undefined, { metrics });
// The test asks each worker for its own count, to see that the requests were spread.
process.on('message', async (m: { localCount?: string }) => {
  if (!m?.localCount) return;
  const histogram = (await metrics.registry.getSingleMetric('civility_bank_graphql_request_duration_seconds')!.get()).values;
  const count = histogram.filter((v) => (v as { metricName?: string }).metricName?.endsWith('_count') && v.labels.operation === m.localCount).reduce((sum, v) => sum + v.value, 0);
  process.send!({ localCount: count });
});
const server = built.app.listen(0, '127.0.0.1', () => process.send!({ listening: (server.address() as AddressInfo).port }));
