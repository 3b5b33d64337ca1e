import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mailerConfigSchema } from '../../services/mailer/src/config';
import { orderApiConfigSchema } from '../../services/order-api/src/config';

const envExample = readFileSync(path.resolve(__dirname, '../../.env.example'), 'utf8');
const composeFile = readFileSync(path.resolve(__dirname, '../../docker-compose.yml'), 'utf8');

/** Variables docker-compose.yml takes from the environment or a `.env` (`${NAME…}`). */
const composeVariables = new Set([...composeFile.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));

/** Keys set or shown commented out (`# KEY=value`) in .env.example. */
const documentedKeys = new Set([...envExample.matchAll(/^#?\s?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));

describe('.env.example', () => {
  it.each([
    ['order-api', Object.keys(orderApiConfigSchema.shape)],
    ['mailer', Object.keys(mailerConfigSchema.in.shape)],
  ])('when compared with the %s config schema, then it lists every key', (_service, keys) => {
    expect(keys.length).toBeGreaterThan(5);
    expect(keys.filter((k) => !documentedKeys.has(k))).toEqual([]);
  });

  it('when compared with both config schemas and docker-compose.yml, then it lists no key that nobody reads', () => {
    const known = new Set([
      ...Object.keys(orderApiConfigSchema.shape),
      ...Object.keys(mailerConfigSchema.in.shape),
      ...composeVariables,
    ]);
    expect([...documentedKeys].filter((k) => !known.has(k))).toEqual([]);
  });

  it('when compared with docker-compose.yml, then it lists every variable the compose file takes', () => {
    expect(composeVariables.size).toBeGreaterThan(5);
    expect([...composeVariables].filter((k) => !documentedKeys.has(k))).toEqual([]);
  });
});
