// Production starts only with settings that are safe there: no published or short JWT secret, a
// database chosen on purpose (DATABASE_URL, or the embedded one asked for by name), and nothing
// seeded or printed that nobody asked for, and the machine's clock (no drill offset). Outside production the demo keeps working as it did.
import { describe, expect, it } from 'vitest';
import { devJwtSecret, loadConfig } from '../../src/config.js';
import { configuredClock } from '../../src/bank.js';

const strongSecret = 'x'.repeat(48);
const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://bank@db.example/bank' };

describe('production settings', () => {
  it('refuse to start with the published development JWT secret', () => {
    expect(() => loadConfig({ ...production, JWT_SECRET: devJwtSecret })).toThrow(/development secret/);
  });

  it('refuse an HS256 secret shorter than 32 bytes, in production and outside it', () => {
    expect(() => loadConfig({ ...production, JWT_SECRET: 's'.repeat(31) })).toThrow(/at least 32 bytes/);
    expect(() => loadConfig({ JWT_SECRET: 'hunter2' })).toThrow(/at least 32 bytes/);
    // 32 bytes counted as UTF-8: eleven three-byte characters are 33 bytes
    expect(loadConfig({ ...production, JWT_SECRET: '文'.repeat(11) }).jwt.secret).toBe('文'.repeat(11));
    expect(loadConfig({ ...production, JWT_SECRET: strongSecret }).jwt.secret).toBe(strongSecret);
  });

  it('need DATABASE_URL or an explicit EMBEDDED_DB=true', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: strongSecret })).toThrow(/DATABASE_URL.*EMBEDDED_DB=true/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: strongSecret, EMBEDDED_DB: 'true' }).embeddedDb).toBe(true);
    expect(loadConfig({}).embeddedDb).toBe(true);
  });

  it('seed nothing and print no token unless asked for', () => {
    const config = loadConfig({ ...production, JWT_SECRET: strongSecret });
    expect(config.seedDemo).toBe(false);
    expect(config.printDemoToken).toBe(false);
    const seeded = loadConfig({ ...production, JWT_SECRET: strongSecret, SEED_DEMO: 'true' });
    expect(seeded.seedDemo).toBe(true);
    expect(seeded.printDemoToken, 'seeding does not print a head-bank admin token by itself').toBe(false);
    expect(loadConfig({ ...production, JWT_SECRET: strongSecret, PRINT_DEMO_TOKEN: 'true' }).printDemoToken).toBe(true);
  });

  it('run on the machine\'s clock: CLOCK_OFFSET_MS (drills only) is refused in production', () => {
    expect(() => loadConfig({ ...production, JWT_SECRET: strongSecret, CLOCK_OFFSET_MS: '60000' })).toThrow(/CLOCK_OFFSET_MS is for drills/);
    expect(loadConfig({ ...production, JWT_SECRET: strongSecret }).clockOffsetMs).toBe(0);
    expect(() => loadConfig({ CLOCK_OFFSET_MS: '-5' })).toThrow(/CLOCK_OFFSET_MS must be a whole number/);
    const drill = loadConfig({ CLOCK_OFFSET_MS: String(3_600_000) });
    const ahead = configuredClock(drill)().getTime() - Date.now();
    expect(ahead).toBeGreaterThanOrEqual(3_600_000 - 50);
    expect(ahead).toBeLessThanOrEqual(3_600_000 + 50);
  });

  it('leave the development defaults as they were (demo seeded, token printed, embedded database)', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ seedDemo: true, printDemoToken: true, embeddedDb: true, production: false });
    expect(config.jwt.secret).toBe(devJwtSecret);
  });
});
