import { DEFAULT_PG_POOL, pgPoolSize } from '../../../src/cli/commands/server';

describe('microseg server --pg-pool', () => {
  it('takes the flag, else MICROSEG_PG_POOL, else the default; refuses what is not 2 to 1000 connections', () => {
    expect(pgPoolSize(undefined, {})).toBe(DEFAULT_PG_POOL);
    expect(pgPoolSize(undefined, { MICROSEG_PG_POOL: '40' })).toBe(40);
    expect(pgPoolSize('8', { MICROSEG_PG_POOL: '40' })).toBe(8);
    expect(['0', '1', '1001', '-3', '2.5', 'ten', ' 8'].map((v) => pgPoolSize(v, {}))).toEqual(Array(7).fill(undefined));
    expect(pgPoolSize(undefined, { MICROSEG_PG_POOL: 'lots' })).toBeUndefined();
  });
});
