import { configError as loadError, detailPaths, durationCases, keysNamedIn } from '@test/helpers/config-errors';
import { loadOrderApiConfig, MISSING_KEYS_MESSAGE } from '../../src/config';
import { apiKeyOf } from '../../src/domain/api-keys';

const configError = (env: NodeJS.ProcessEnv) => loadError(loadOrderApiConfig, env);
const AUTH_OFF = { ORDER_API_AUTH: 'off' };
const KEY = 'k'.repeat(32);

describe('loadOrderApiConfig', () => {
  describe('when the environment is empty', () => {
    it('then it refuses with one line naming ORDER_API_KEYS and how to go without', () => {
      // Act
      const err = configError({});

      // Assert
      expect(err.message).toBe(MISSING_KEYS_MESSAGE);
      expect(err.message).not.toContain('\n');
      expect(err.message).toMatch(/^ORDER_API_KEYS is not set: .*ORDER_API_AUTH=off/);
      expect(detailPaths(err)).toEqual(['ORDER_API_KEYS']);
    });
  });

  describe('when only ORDER_API_AUTH=off is set', () => {
    it('then every other setting has its default', () => {
      // Act
      const config = loadOrderApiConfig(AUTH_OFF);

      // Assert
      expect(config).toEqual({
        PORT: 3000,
        HOST: '127.0.0.1',
        AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
        ORDERS_EXCHANGE: 'orders',
        ORDER_CONFIRMED_ROUTING_KEY: 'order.confirmed',
        PUBLISH_CONFIRM_TIMEOUT_MS: 5000,
        RETRY_AFTER_SECONDS: 5,
        SHUTDOWN_TIMEOUT_MS: 10000,
        HTTP_HEADERS_TIMEOUT_MS: 5000,
        HTTP_REQUEST_TIMEOUT_MS: 15000,
        LOG_LEVEL: 'info',
        ORDER_API_KEYS: [],
        ORDER_API_AUTH: 'off',
        ORDER_API_RATE_LIMIT: 600,
      });
    });
  });

  describe('when every setting is given and valid', () => {
    it('then the values are parsed and numbers coerced', () => {
      // Arrange
      const env = {
        PORT: '8080',
        HOST: '0.0.0.0',
        AMQP_URL: 'amqps://user:secret@rabbit.internal:5671/vhost',
        ORDERS_EXCHANGE: 'shop.orders',
        ORDER_CONFIRMED_ROUTING_KEY: 'order.confirmed.v1',
        PUBLISH_CONFIRM_TIMEOUT_MS: '2500',
        RETRY_AFTER_SECONDS: '30',
        SHUTDOWN_TIMEOUT_MS: '1',
        HTTP_HEADERS_TIMEOUT_MS: '2000',
        HTTP_REQUEST_TIMEOUT_MS: '2000',
        LOG_LEVEL: 'debug',
        ORDER_API_KEYS: KEY,
        ORDER_API_AUTH: 'on',
        ORDER_API_RATE_LIMIT: '120',
      };

      // Act
      const config = loadOrderApiConfig(env);

      // Assert
      expect(config).toEqual({
        PORT: 8080,
        HOST: '0.0.0.0',
        AMQP_URL: 'amqps://user:secret@rabbit.internal:5671/vhost',
        ORDERS_EXCHANGE: 'shop.orders',
        ORDER_CONFIRMED_ROUTING_KEY: 'order.confirmed.v1',
        PUBLISH_CONFIRM_TIMEOUT_MS: 2500,
        RETRY_AFTER_SECONDS: 30,
        SHUTDOWN_TIMEOUT_MS: 1,
        HTTP_HEADERS_TIMEOUT_MS: 2000,
        HTTP_REQUEST_TIMEOUT_MS: 2000,
        LOG_LEVEL: 'debug',
        ORDER_API_KEYS: [apiKeyOf(KEY)],
        ORDER_API_AUTH: 'on',
        ORDER_API_RATE_LIMIT: 120,
      });
    });

    it.each(['0', '65535'])('when PORT is %s, then it is accepted', (port) => {
      // Act
      const config = loadOrderApiConfig({ ...AUTH_OFF, PORT: port });

      // Assert
      expect(config.PORT).toBe(Number(port));
    });

    it('when unrelated variables are present, then they are ignored', () => {
      // Act
      const config = loadOrderApiConfig({ ...AUTH_OFF, HOME: '/root', PATH: '/usr/bin' });

      // Assert
      expect(config).not.toHaveProperty('HOME');
      expect(config.PORT).toBe(3000);
    });
  });

  describe('when a setting is blank', () => {
    it.each(['PORT', 'ORDERS_EXCHANGE', 'PUBLISH_CONFIRM_TIMEOUT_MS'])(
      'when %s is set to an empty or blank value, then its default applies (a bare `KEY=` line means unset)',
      (key) => {
        // Act
        const blank = loadOrderApiConfig({ ...AUTH_OFF, [key]: '' });
        const spaces = loadOrderApiConfig({ ...AUTH_OFF, [key]: '  ' });

        // Assert
        const defaults = loadOrderApiConfig(AUTH_OFF);
        expect(blank).toEqual(defaults);
        expect(spaces).toEqual(defaults);
      },
    );
  });

  describe('when one setting is invalid', () => {
    it.each([
      ['PORT', 'abc'],
      ['PORT', '70000'],
      ['PORT', '-1'],
      ['PORT', '80.5'],
      ['AMQP_URL', 'http://x'],
      ['AMQP_URL', 'amqp://'],
      ['ORDERS_EXCHANGE', 'amq.foo'],
      ['ORDERS_EXCHANGE', 'has space'],
      ['ORDERS_EXCHANGE', 'x'.repeat(256)],
      ['ORDER_CONFIRMED_ROUTING_KEY', 'order confirmed'],
      ['PUBLISH_CONFIRM_TIMEOUT_MS', '0'],
      ['RETRY_AFTER_SECONDS', '0'],
      ['SHUTDOWN_TIMEOUT_MS', 'soon'],
      ['HTTP_HEADERS_TIMEOUT_MS', '0'],
      ['HTTP_HEADERS_TIMEOUT_MS', '5sec'],
      ['HTTP_HEADERS_TIMEOUT_MS', '20000'],
      ['HTTP_REQUEST_TIMEOUT_MS', '0'],
      ['HTTP_REQUEST_TIMEOUT_MS', '1.5'],
      ['LOG_LEVEL', 'loud'],
      ['LOG_LEVEL', 'INFO'],
      ['ORDER_API_KEYS', 'k'.repeat(31)],
      ['ORDER_API_KEYS', `${KEY},`],
      ['ORDER_API_KEYS', `sha256:${'a'.repeat(63)}`],
      ['ORDER_API_KEYS', `sha256:${'g'.repeat(64)}`],
      ['ORDER_API_KEYS', `${'k'.repeat(31)} k`],
      ['ORDER_API_KEYS', `${KEY},${KEY}`],
      ['ORDER_API_AUTH', 'no'],
      ['ORDER_API_AUTH', 'OFF'],
      ['ORDER_API_RATE_LIMIT', '0'],
      ['ORDER_API_RATE_LIMIT', '1.5'],
      ['ORDER_API_RATE_LIMIT', 'lots'],
    ])('when %s is %p, then the error names that key and only that key', (key, value) => {
      // Act
      const err = configError({ [key]: value });

      // Assert
      expect(err.message).toMatch(/^Invalid configuration:/);
      expect(keysNamedIn(err.message)).toEqual([key]);
      expect(detailPaths(err)).toEqual([key]);
    });

    it('when ORDERS_EXCHANGE starts with "amq.", then the message explains the name is reserved', () => {
      // Act
      const err = configError({ ORDERS_EXCHANGE: 'amq.foo' });

      // Assert
      expect(err.message).toContain('ORDERS_EXCHANGE: names starting with "amq." are reserved by RabbitMQ');
    });

    it('when HTTP_HEADERS_TIMEOUT_MS exceeds HTTP_REQUEST_TIMEOUT_MS, then the message says the headers are part of the request', () => {
      // Act
      const err = configError({ HTTP_HEADERS_TIMEOUT_MS: '3000', HTTP_REQUEST_TIMEOUT_MS: '2000' });

      // Assert
      expect(err.message).toContain('HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS');
      expect(detailPaths(err)).toEqual(['HTTP_HEADERS_TIMEOUT_MS']);
    });

    it('when AMQP_URL is not an AMQP URL, then the message says what is expected', () => {
      // Act
      const err = configError({ AMQP_URL: 'http://x' });

      // Assert
      expect(err.message).toContain('AMQP_URL: must be an amqp:// or amqps:// URL');
    });
  });

  describe('duration keys', () => {
    // Each key with what its rules compare it with, set so that every form below passes them.
    const durationKeys: [string, NodeJS.ProcessEnv][] = [
      ['PUBLISH_CONFIRM_TIMEOUT_MS', {}],
      ['SHUTDOWN_TIMEOUT_MS', {}],
      ['HTTP_HEADERS_TIMEOUT_MS', { HTTP_REQUEST_TIMEOUT_MS: '2h' }],
      ['HTTP_REQUEST_TIMEOUT_MS', { HTTP_HEADERS_TIMEOUT_MS: '1' }],
    ];
    const { good: goodCases, bad: badCases } = durationCases(durationKeys);

    it.each(goodCases)('when %s is %p, then it is %i milliseconds', (key, text, ms, rest) => {
      // Act
      const config = loadOrderApiConfig({ ...AUTH_OFF, ...rest, [key]: text });

      // Assert
      expect(config).toHaveProperty(key, ms);
    });

    it.each(badCases)(
      'when %s is %p, then the error names that key, only it, and the accepted forms',
      (key, text, rest) => {
        // Act
        const err = configError({ ...AUTH_OFF, ...rest, [key]: text });

        // Assert
        expect(keysNamedIn(err.message)).toEqual([key]);
        expect(detailPaths(err)).toEqual([key]);
        expect(err.message).toContain(
          `${key}: must be a positive duration: a whole number with a unit ms, s, m or h (250ms, 30s, 2m, 1h), ` +
            'or a bare whole number of milliseconds (5000)',
        );
      },
    );

    it.each([
      ['5', 5],
      ['5000ms', 5],
      ['30s', 30],
      ['2m', 120],
      ['1h', 3600],
    ])('when RETRY_AFTER_SECONDS is %p, then it is %i seconds (a bare number counts seconds)', (text, seconds) => {
      expect(loadOrderApiConfig({ ...AUTH_OFF, RETRY_AFTER_SECONDS: text }).RETRY_AFTER_SECONDS).toBe(seconds);
    });

    it.each(['250ms', '1500ms', '1.5s', '0', '30x'])(
      'when RETRY_AFTER_SECONDS is %p, then the error names it and the accepted forms, in whole seconds',
      (text) => {
        // Act
        const err = configError({ ...AUTH_OFF, RETRY_AFTER_SECONDS: text });

        // Assert
        expect(detailPaths(err)).toEqual(['RETRY_AFTER_SECONDS']);
        expect(err.message).toContain(
          'RETRY_AFTER_SECONDS: must be a positive duration: a whole number with a unit ms, s, m or h that comes to ' +
            'whole seconds (30s, 2m, 1h), or a bare whole number of seconds (5)',
        );
      },
    );
  });

  describe('ORDER_API_KEYS', () => {
    it.each([
      ['one raw key', KEY, [apiKeyOf(KEY)]],
      ['spaces around entries', `  ${KEY} , ${'m'.repeat(40)}  `, [apiKeyOf(KEY), apiKeyOf('m'.repeat(40))]],
      [
        'a sha256: entry in upper case',
        `SHA256:${apiKeyOf(KEY).digest.toString('hex').toUpperCase()}`,
        [apiKeyOf(KEY)],
      ],
      [
        'two keys for a rotation, raw and hashed',
        `${'m'.repeat(40)},sha256:${apiKeyOf(KEY).digest.toString('hex')}`,
        [apiKeyOf('m'.repeat(40)), apiKeyOf(KEY)],
      ],
    ])('when it holds %s, then each key is kept as its digest and id', (_what, value, keys) => {
      // Act
      const config = loadOrderApiConfig({ ORDER_API_KEYS: value });

      // Assert
      expect(config.ORDER_API_KEYS).toEqual(keys);
    });

    it('when several entries are bad, then each is named by its position and none is quoted', () => {
      // Arrange: a good key, a short secret, an empty entry, bad hex
      const env = { ORDER_API_KEYS: `${KEY},short-secret-1,,sha256:not-hex-secret` };

      // Act
      const err = configError(env);

      // Assert
      expect(err.message).toBe(
        [
          'Invalid configuration:',
          '  ORDER_API_KEYS: entry 2 of 4 is a key of 14 characters; a key needs at least 32 (or give its SHA-256 as sha256:<64 hex digits>)',
          '  ORDER_API_KEYS: entry 3 of 4 is empty',
          '  ORDER_API_KEYS: entry 4 of 4 must be sha256: followed by 64 hex digits (the SHA-256 of a key)',
        ].join('\n'),
      );
      expect(JSON.stringify(err.details)).not.toMatch(/short-secret|not-hex-secret|kkkk/);
    });

    it('when the same key is given twice, once raw and once hashed, then the second entry is named', () => {
      // Act
      const err = configError({ ORDER_API_KEYS: `${KEY},sha256:${apiKeyOf(KEY).digest.toString('hex')}` });

      // Assert
      expect(err.message).toContain('ORDER_API_KEYS: entry 2 of 2 is the same key as entry 1');
    });

    it('when ORDER_API_AUTH=off and keys are set too, then ORDER_API_AUTH is named (keys would silently not be checked)', () => {
      // Act
      const err = configError({ ...AUTH_OFF, ORDER_API_KEYS: KEY });

      // Assert
      expect(detailPaths(err)).toEqual(['ORDER_API_AUTH']);
      expect(err.message).toContain('ORDER_API_AUTH: is off, but ORDER_API_KEYS is set');
    });
  });

  describe('when several settings are invalid', () => {
    it('then the error names every bad key and no good one', () => {
      // Arrange
      const env = {
        PORT: 'abc',
        AMQP_URL: 'http://x',
        ORDERS_EXCHANGE: 'amq.foo',
        LOG_LEVEL: 'loud',
        ORDER_CONFIRMED_ROUTING_KEY: 'order.confirmed',
        RETRY_AFTER_SECONDS: '9',
      };

      // Act
      const err = configError(env);

      // Assert
      expect(keysNamedIn(err.message).sort()).toEqual(['AMQP_URL', 'LOG_LEVEL', 'ORDERS_EXCHANGE', 'PORT']);
      expect(detailPaths(err).sort()).toEqual(['AMQP_URL', 'LOG_LEVEL', 'ORDERS_EXCHANGE', 'PORT']);
    });
  });
});
