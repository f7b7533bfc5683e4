// With several service processes under node:cluster (WORKERS=N), a scrape answered by any worker shows
// the whole service: the primary (serveClusterMetrics) adds up every worker's registry.
import cluster, { type Worker } from 'node:cluster';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/config.js';
import { serveClusterMetrics } from '../../src/http/metrics.js';

const workerCount = 2;
let workers: Worker[] = [];
let port = 0;

/** A request on a connection of its own, so that the cluster hands it to the next worker in turn. */
function send(method: string, route: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: route, method, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  serveClusterMetrics();
  cluster.setupPrimary({ exec: path.join(projectRoot, 'test/support/clusterWorker.ts'), execArgv: ['--import', 'tsx'], silent: true });
  const ports = await Promise.all(Array.from({ length: workerCount }, () => new Promise<number>((resolve, reject) => {
    const worker = cluster.fork({ CB_TEST_DATABASE_URL: inject('databaseUrl') });
    workers.push(worker);
    worker.on('message', (m: { listening?: number }) => { if (m?.listening) resolve(m.listening); });
    worker.on('exit', (code) => reject(new Error(`a worker exited (${code}) before listening`)));
  })));
  expect(new Set(ports).size).toBe(1);
  port = ports[0]!;
  // two processes loading the service through tsx take a while on a busy machine
}, 240_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => new Promise((resolve) => { w.once('exit', resolve); w.kill(); })));
  workers = [];
});

describe('metrics of a cluster', () => {
  it('counts the requests every worker served, in one scrape', async () => {
    const requests = 6;
    for (let i = 0; i < requests; i++) {
      const res = await send('POST', '/graphql', JSON.stringify({ query: 'query Probe { __typename }' }));
      expect(res.status).toBeLessThan(500);
    }
    const scrape = await send('GET', '/metrics');
    expect(scrape.status).toBe(200);
    const counted = scrape.text.split('\n').filter((l) => l.startsWith('civility_bank_graphql_request_duration_seconds_count{operation="Probe"'))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    expect(counted).toBe(requests);
    // and they were served by every worker, each counting only its own
    const local = await Promise.all(workers.map((w) => new Promise<number>((resolve) => {
      const hear = (m: { localCount?: number }) => { if (typeof m?.localCount === 'number') { w.off('message', hear); resolve(m.localCount); } };
      w.on('message', hear);
      w.send({ localCount: 'Probe' });
    })));
    expect(local.reduce((a, b) => a + b, 0)).toBe(requests);
    for (const n of local) expect(n).toBeGreaterThan(0);
    // database gauges are the largest worker's value, not a sum; each appears once
    expect(scrape.text.match(/^civility_bank_seal_lag_seconds /gm)).toHaveLength(1);
  });
});
