import { configError as loadError, detailPaths, keysNamedIn } from '../../../../test/helpers/config-errors';
import { loadOrderApiConfig } from '../../src/config';

const configError = (env: NodeJS.ProcessEnv) => loadError(loadOrderApiConfig, env);

describe('loadOrderApiConfig', () => {
  describe('when the environment is empty', () => {
    it('then every setting has its default', () => {
      // Act
      const config = loadOrderApiConfig({});

      // Assert
      expect(config).toEqual({
        PORT: 3000,
        AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
        ORDERS_EXCHANGE: 'orders',
        ORDER_CONFIRMED_ROUTING_KEY: 'order.confirmed',
        PUBLISH_CONFIRM_TIMEOUT_MS: 5000,
        RETRY_AFTER_SECONDS: 5,
        SHUTDOWN_TIMEOUT_MS: 10000,
        HTTP_HEADERS_TIMEOUT_MS: 5000,
        HTTP_REQUEST_TIMEOUT_MS: 15000,
        LOG_LEVEL: 'info',
      });
    });
  });

  describe('when every setting is given and valid', () => {
    it('then the values are parsed and numbers coerced', () => {
      // Arrange
      const env = {
        PORT: '8080',
        AMQP_URL: 'amqps://user:secret@rabbit.internal:5671/vhost',
        ORDERS_EXCHANGE: 'shop.orders',
        ORDER_CONFIRMED_ROUTING_KEY: 'order.confirmed.v1',
        PUBLISH_CONFIRM_TIMEOUT_MS: '2500',
        RETRY_AFTER_SECONDS: '30',
        SHUTDOWN_TIMEOUT_MS: '1',
        HTTP_HEADERS_TIMEOUT_MS: '2000',
        HTTP_REQUEST_TIMEOUT_MS: '2000',
        LOG_LEVEL: 'debug',
      };

      // Act
      const config = loadOrderApiConfig(env);

      // Assert
      expect(config).toEqual({
        PORT: 8080,
        AMQP_URL: 'amqps://user:secret@rabbit.internal:5671/vhost',
        ORDERS_EXCHANGE: 'shop.orders',
        ORDER_CONFIRMED_ROUTING_KEY: 'order.confirmed.v1',
        PUBLISH_CONFIRM_TIMEOUT_MS: 2500,
        RETRY_AFTER_SECONDS: 30,
        SHUTDOWN_TIMEOUT_MS: 1,
        HTTP_HEADERS_TIMEOUT_MS: 2000,
        HTTP_REQUEST_TIMEOUT_MS: 2000,
        LOG_LEVEL: 'debug',
      });
    });

    it.each(['0', '65535'])('when PORT is %s, then it is accepted', (port) => {
      // Act
      const config = loadOrderApiConfig({ PORT: port });

      // Assert
      expect(config.PORT).toBe(Number(port));
    });

    it('when unrelated variables are present, then they are ignored', () => {
      // Act
      const config = loadOrderApiConfig({ HOME: '/root', PATH: '/usr/bin' });

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
        const blank = loadOrderApiConfig({ [key]: '' });
        const spaces = loadOrderApiConfig({ [key]: '  ' });

        // Assert
        const defaults = loadOrderApiConfig({});
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
      ['HTTP_HEADERS_TIMEOUT_MS', '5s'],
      ['HTTP_HEADERS_TIMEOUT_MS', '20000'],
      ['HTTP_REQUEST_TIMEOUT_MS', '0'],
      ['HTTP_REQUEST_TIMEOUT_MS', '1.5'],
      ['LOG_LEVEL', 'loud'],
      ['LOG_LEVEL', 'INFO'],
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
