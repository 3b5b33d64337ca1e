import { randomBytes } from 'node:crypto';
import { configError as loadError, detailPaths, durationCases, keysNamedIn } from '@test/helpers/config-errors';
import { loadMailerConfig } from '../../src/config';

const configError = (env: NodeJS.ProcessEnv) => loadError(loadMailerConfig, env);

describe('loadMailerConfig', () => {
  describe('when the environment is empty', () => {
    it('then every setting has its default', () => {
      // Act
      const config = loadMailerConfig({});

      // Assert
      expect(config).toEqual({
        PORT: 3001,
        HOST: '127.0.0.1',
        AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
        ORDERS_EXCHANGE: 'orders',
        ORDER_CONFIRMED_ROUTING_KEY: 'order.confirmed',
        MAILER_QUEUE: 'mailer.order.confirmed',
        MAIL_EVENTS_EXCHANGE: 'mail.events',
        DEAD_LETTER_EXCHANGE: 'mailer.dead-letter',
        DEAD_LETTER_QUEUE: 'mailer.order.confirmed.dead',
        DELIVERY_LIMIT: 20,
        PREFETCH: 10,
        RETRY_DELAYS: [30_000, 120_000, 600_000, 3_600_000, 21_600_000],
        UNKNOWN_OUTCOME_GRACE_MS: 600_000,
        PUBLISH_CONFIRM_TIMEOUT_MS: 5000,
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
        DATABASE_SCHEMA: 'mailer',
        REPLAY_RATE_PER_SECOND: 50,
        DEAD_LETTER_RETENTION_DAYS: 30,
        LEDGER_PII_RETENTION_DAYS: 90,
        WEBHOOK_TIMEOUT_MS: 15_000,
        WEBHOOK_RETRY_DELAYS: [
          5000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000,
        ],
        WEBHOOK_CONCURRENCY: 4,
        WEBHOOK_LOG_RETENTION_DAYS: 30,
        SMTP_URL: 'smtp://127.0.0.1:1025',
        SMTP_POOL_SIZE: 5,
        SMTP_CONNECTION_TIMEOUT_MS: 10000,
        SMTP_GREETING_TIMEOUT_MS: 10000,
        SMTP_SOCKET_TIMEOUT_MS: 30000,
        SMTP_SEND_TIMEOUT_MS: 120_000,
        SMTP_CHECK_INTERVAL_MS: 30_000,
        SMTP_RATE_LIMIT_PAUSE_MS: 5000,
        MAIL_FROM: 'Order Confirmations <orders@example.com>',
        MESSAGE_ID_DOMAIN: 'example.com',
        SHOP_NAME: 'Order Confirmations',
        BRAND_COLOR: '#1f5fa8',
        WORKER_ID: expect.any(String),
        SHUTDOWN_TIMEOUT_MS: 10000,
        HTTP_HEADERS_TIMEOUT_MS: 5000,
        HTTP_REQUEST_TIMEOUT_MS: 15000,
        LOG_LEVEL: 'info',
      });
    });

    it('then no webhook is configured', () => {
      // Act
      const config = loadMailerConfig({});

      // Assert
      expect(config.WEBHOOK_URL).toBeUndefined();
      expect(config.WEBHOOK_SECRET).toBeUndefined();
    });

    it('then the worker id names this process', () => {
      // Act
      const config = loadMailerConfig({});

      // Assert
      expect(config.WORKER_ID).toMatch(new RegExp(`-${process.pid}$`));
    });
  });

  describe('when settings are given and valid', () => {
    it('then the values are parsed and numbers coerced', () => {
      // Arrange
      const env = {
        PORT: '0',
        AMQP_URL: 'amqps://user:secret@rabbit.internal:5671',
        PREFETCH: '1000',
        DELIVERY_LIMIT: '1',
        SMTP_URL: 'smtps://user:pass@smtp.example:465',
        SMTP_POOL_SIZE: '100',
        MAIL_FROM: 'orders@shop.example',
        WORKER_ID: 'worker-1',
        LOG_LEVEL: 'silent',
      };

      // Act
      const config = loadMailerConfig(env);

      // Assert
      expect(config).toMatchObject({
        PORT: 0,
        AMQP_URL: 'amqps://user:secret@rabbit.internal:5671',
        PREFETCH: 1000,
        DELIVERY_LIMIT: 1,
        SMTP_URL: 'smtps://user:pass@smtp.example:465',
        SMTP_POOL_SIZE: 100,
        MAIL_FROM: 'orders@shop.example',
        WORKER_ID: 'worker-1',
        LOG_LEVEL: 'silent',
      });
    });
  });

  describe('MESSAGE_ID_DOMAIN', () => {
    it.each([
      ['"Name <address>"', 'Name <a@b.example>', 'b.example'],
      ['a bare address', 'a@b.example', 'b.example'],
      ['a quoted display name', '"Shop, Inc." <orders@mail.shop.example>', 'mail.shop.example'],
      ['an empty display name', '<orders@shop.example>', 'shop.example'],
      ['an unquoted comma in the display name', 'Shop, Inc. <orders@shop.example>', 'shop.example'],
    ])('when MAIL_FROM is %s and no domain is set, then it defaults to the address domain', (_label, from, domain) => {
      // Act
      const config = loadMailerConfig({ MAIL_FROM: from });

      // Assert
      expect(config.MAIL_FROM).toBe(from);
      expect(config.MESSAGE_ID_DOMAIN).toBe(domain);
    });

    it('when it is set explicitly, then it wins over the MAIL_FROM domain', () => {
      // Act
      const config = loadMailerConfig({ MAIL_FROM: 'Name <a@b.example>', MESSAGE_ID_DOMAIN: 'ids.example' });

      // Assert
      expect(config.MESSAGE_ID_DOMAIN).toBe('ids.example');
    });

    it('when it is not a domain name, then the error names it', () => {
      // Act
      const err = configError({ MESSAGE_ID_DOMAIN: 'not a domain!' });

      // Assert
      expect(keysNamedIn(err.message)).toEqual(['MESSAGE_ID_DOMAIN']);
    });
  });

  describe.each([
    ['DEAD_LETTER_RETENTION_DAYS', 30],
    ['LEDGER_PII_RETENTION_DAYS', 90],
    ['WEBHOOK_LOG_RETENTION_DAYS', 30],
  ] as const)('%s (whole days, default %i)', (key, fallback) => {
    it.each([
      ['1', 1],
      ['30', 30],
      ['3650', 3650],
    ])('when it is %p, then it is %i days', (value, days) => {
      // Act
      const config = loadMailerConfig({ [key]: value });

      // Assert
      expect(config[key]).toBe(days);
    });

    it.each(['0', '3651', '1.5', '-1', 'a month', '30d'])('when it is %p, then the error names it', (value) => {
      // Act
      const err = configError({ [key]: value });

      // Assert
      expect(keysNamedIn(err.message)).toEqual([key]);
    });

    it('when it is given with a unit, then the error says it takes whole days without one', () => {
      expect(configError({ [key]: '30d' }).message).toContain(
        `must be a whole number of days from 1 to 3650, e.g. ${fallback} (no unit)`,
      );
    });
  });

  describe.each(['RETRY_DELAYS', 'WEBHOOK_RETRY_DELAYS'] as const)('when %s is given', (key) => {
    it.each([
      ['30s,2m,10m,1h,6h', [30_000, 120_000, 600_000, 3_600_000, 21_600_000]],
      ['250ms, 500', [250, 500]],
      ['1h', [3_600_000]],
      ['5000,250ms,30s,2m,1h', [5000, 250, 30_000, 120_000, 3_600_000]],
    ])('when it is %p, then it is parsed to %p milliseconds', (value, expected) => {
      expect(loadMailerConfig({ [key]: value })[key]).toEqual(expected);
    });

    it.each([
      ['not a duration', '30s,2 minutes', ': entry 2 ("2 minutes") is not a positive duration'],
      ['empty', '30s,,2m', ': entry 2 ("") is not a positive duration'],
      ['past the longest timer Node can set', '30s, 597h', ': entry 2 ("597h") is over 596h'],
      ['one of 21', Array(21).fill('1s').join(','), ': it has 21'],
    ])(
      'when an entry is %s, then the message says which forms are allowed and which entry is wrong',
      (_label, value, which) => {
        // Act
        const err = configError({ [key]: value });

        // Assert
        expect(keysNamedIn(err.message)).toEqual([key]);
        expect(err.message).toContain(
          `${key}: must be ` +
            'a comma-separated list of 1-20 positive durations such as "30s,2m,10m,1h,6h", ' +
            'each a whole number with a unit ms, s, m or h (250ms, 30s, 2m, 1h), or a bare whole number of milliseconds (5000) and at most 596h' +
            which,
        );
      },
    );
  });

  describe('webhooks (WEBHOOK_URL, WEBHOOK_SECRET, WEBHOOK_CONCURRENCY)', () => {
    /** `whsec_` and the base64 of `bytes` random bytes: a signing secret as an operator makes one. */
    const whsec = (bytes: number) => `whsec_${randomBytes(bytes).toString('base64')}`;
    const SECRET = whsec(32);
    const URL_PROBLEM =
      'WEBHOOK_URL: must be an http:// or https:// URL with a host (no white space, credentials or #fragment)';
    const SECRET_PROBLEM = 'WEBHOOK_SECRET: must be whsec_ followed by the padded base64 of 24-64 random bytes';

    it.each([
      ['https with a path', 'https://shop.example.com/hooks/order-mail'],
      ['https with a port and a path', 'https://shop.example.com:8443/hooks/order-mail'],
      ['http with a path', 'http://receiver.internal/webhooks'],
      ['http with a port and a path', 'http://127.0.0.1:8080/webhooks'],
      ['http to an IPv6 address with a port', 'http://[::1]:9000/hook'],
      ['https without a path', 'https://shop.example.com'],
      ['https with a query', 'https://shop.example.com/hooks?source=order-mail'],
    ])('when WEBHOOK_URL is %s (%p) with a secret, then it is kept as given', (_form, url) => {
      // Act
      const config = loadMailerConfig({ WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET });

      // Assert
      expect(config.WEBHOOK_URL).toBe(url);
      expect(config.WEBHOOK_SECRET).toEqual([SECRET]);
    });

    it.each([
      ['an ftp: URL', 'ftp://shop.example.com/hooks'],
      ['a mailto: URL', 'mailto:hooks@shop.example.com'],
      ['without a scheme', 'shop.example.com/hooks'],
      ['with a user name and password', 'https://user:secret@shop.example.com/hooks'],
      ['with a user name', 'https://user@shop.example.com/hooks'],
      ['with a password only', 'https://:secret@shop.example.com/hooks'],
      ['with a space in the path', 'https://shop.example.com/my hooks'],
      ['with a leading space', ' https://shop.example.com/hooks'],
      ['with a trailing tab', 'https://shop.example.com/hooks\t'],
      ['with a fragment', 'https://shop.example.com/hooks#order-mail'],
      ['without a host', 'https://'],
      ['with one slash, which URL would read as host "hooks"', 'https:/hooks'],
      ['with three slashes, which URL would read as host "path"', 'http:///path'],
      ['with an empty fragment', 'https://shop.example.com/hooks#'],
      ['with empty credentials', 'https://@shop.example.com/hooks'],
    ])(
      'when WEBHOOK_URL is %s (%p), then the error names WEBHOOK_URL, only it, and the forms allowed',
      (_form, url) => {
        // Act
        const err = configError({ WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET });

        // Assert
        expect(keysNamedIn(err.message)).toEqual(['WEBHOOK_URL']);
        expect(detailPaths(err)).toEqual(['WEBHOOK_URL']);
        expect(err.message).toContain(URL_PROBLEM);
      },
    );

    it.each([
      ['one secret of 32 random bytes', () => [whsec(32)]],
      ['one secret of 24 random bytes (the fewest)', () => [whsec(24)]],
      ['one secret of 64 random bytes (the most)', () => [whsec(64)]],
      ['two secrets (a rotation, the new one first)', () => [whsec(32), whsec(32)]],
    ])('when WEBHOOK_SECRET is %s, then the secrets are kept as given, in order', (_what, make) => {
      // Arrange
      const secrets = make();

      // Act
      const config = loadMailerConfig({
        WEBHOOK_URL: 'https://shop.example.com/hooks',
        WEBHOOK_SECRET: secrets.join(' '),
      });

      // Assert
      expect(config.WEBHOOK_SECRET).toEqual(secrets);
    });

    it.each([
      ['without the whsec_ prefix', () => randomBytes(32).toString('base64')],
      ['with a prefix in capitals', () => `WHSEC_${randomBytes(32).toString('base64')}`],
      ['the prefix alone', () => 'whsec_'],
      ['of 16 random bytes (too short)', () => whsec(16)],
      ['of 23 random bytes (one too few)', () => whsec(23)],
      ['of 65 random bytes (too long)', () => whsec(65)],
      ['not base64', () => `whsec_${'*'.repeat(44)}`],
      ['base64url rather than base64', () => `whsec_${'A'.repeat(20)}-_${'A'.repeat(22)}`],
      ['base64 with padding in the middle', () => `whsec_${'A'.repeat(20)}=${'A'.repeat(23)}`],
      ['a good secret followed by a bad one', () => `${whsec(32)} ${whsec(16)}`],
      ['a bad secret followed by a good one', () => `not-a-secret ${whsec(32)}`],
      ['base64 without its padding (strict decoders refuse it)', () => whsec(32).replace(/=+$/, '')],
    ])('when WEBHOOK_SECRET is %s, then the error names WEBHOOK_SECRET, only it, and the form', (_what, make) => {
      // Act
      const err = configError({ WEBHOOK_URL: 'https://shop.example.com/hooks', WEBHOOK_SECRET: make() });

      // Assert
      expect(keysNamedIn(err.message)).toEqual(['WEBHOOK_SECRET']);
      expect(detailPaths(err)).toEqual(['WEBHOOK_SECRET']);
      expect(err.message).toContain(SECRET_PROBLEM);
    });

    it('when the second of two secrets is bad, then the error says which one, without showing either', () => {
      // Arrange
      const good = whsec(32);
      const bad = whsec(16);

      // Act
      const err = configError({ WEBHOOK_URL: 'https://shop.example.com/hooks', WEBHOOK_SECRET: `${good} ${bad}` });

      // Assert
      expect(err.message).toContain('(secret 2 of 2 is not)');
      expect(err.message).not.toContain(good);
      expect(err.message).not.toContain(bad);
    });

    it.each([
      ['unset', {}],
      ['a blank line (WEBHOOK_SECRET=)', { WEBHOOK_SECRET: '' }],
      ['white space only', { WEBHOOK_SECRET: '   ' }],
    ])(
      'when WEBHOOK_URL is set and WEBHOOK_SECRET is %s, then the error names WEBHOOK_SECRET as required',
      (_what, env) => {
        // Act
        const err = configError({ WEBHOOK_URL: 'https://shop.example.com/hooks', ...env });

        // Assert
        expect(keysNamedIn(err.message)).toEqual(['WEBHOOK_SECRET']);
        expect(detailPaths(err)).toEqual(['WEBHOOK_SECRET']);
        expect(err.message).toContain(
          'WEBHOOK_SECRET: is required when WEBHOOK_URL is set (webhooks are always signed)',
        );
      },
    );

    it('when WEBHOOK_SECRET is set without WEBHOOK_URL, then it is accepted and no webhook is sent', () => {
      // Act
      const config = loadMailerConfig({ WEBHOOK_SECRET: SECRET });

      // Assert
      expect(config.WEBHOOK_URL).toBeUndefined();
      expect(config.WEBHOOK_SECRET).toEqual([SECRET]);
    });

    it.each([
      ['1', 1],
      ['4', 4],
      ['100', 100],
    ])('when WEBHOOK_CONCURRENCY is %p, then it is %i', (value, expected) => {
      expect(loadMailerConfig({ WEBHOOK_CONCURRENCY: value }).WEBHOOK_CONCURRENCY).toBe(expected);
    });

    it.each(['0', '101', '2.5', '-1', 'four'])('when WEBHOOK_CONCURRENCY is %p, then the error names it', (value) => {
      // Act
      const err = configError({ WEBHOOK_CONCURRENCY: value });

      // Assert
      expect(keysNamedIn(err.message)).toEqual(['WEBHOOK_CONCURRENCY']);
      expect(detailPaths(err)).toEqual(['WEBHOOK_CONCURRENCY']);
    });
  });

  describe('a RabbitMQ cluster (AMQP_URL as a list, QUORUM_INITIAL_GROUP_SIZE)', () => {
    const nodes = (n: number) => Array.from({ length: n }, (_, i) => `amqp://u:p@rabbit-${i + 1}:5672`).join(',');

    it.each<[string, Record<string, string>, number | undefined]>([
      ['one node: RabbitMQ decides', { AMQP_URL: nodes(1) }, undefined],
      ['two nodes: both', { AMQP_URL: nodes(2) }, 2],
      ['three nodes: all three', { AMQP_URL: nodes(3) }, 3],
      ['five nodes: three (a quorum of three survives one loss)', { AMQP_URL: nodes(5) }, 3],
      ['five nodes and QUORUM_INITIAL_GROUP_SIZE=5', { AMQP_URL: nodes(5), QUORUM_INITIAL_GROUP_SIZE: '5' }, 5],
      ['one node and QUORUM_INITIAL_GROUP_SIZE=1', { AMQP_URL: nodes(1), QUORUM_INITIAL_GROUP_SIZE: '1' }, 1],
    ])('when AMQP_URL lists %s, then new quorum queues get that group size', (_what, env, size) => {
      // Act
      const config = loadMailerConfig(env);

      // Assert
      expect(config.AMQP_URL).toBe(env.AMQP_URL);
      expect(config.QUORUM_INITIAL_GROUP_SIZE).toBe(size);
    });

    it.each(['0', '8', '2.5', 'three'])('when QUORUM_INITIAL_GROUP_SIZE is %p, then the error names it', (value) => {
      // Act
      const err = configError({ QUORUM_INITIAL_GROUP_SIZE: value });

      // Assert
      expect(keysNamedIn(err.message)).toEqual(['QUORUM_INITIAL_GROUP_SIZE']);
    });

    it('when one node of AMQP_URL is not an AMQP URL, then the error names AMQP_URL and the entry', () => {
      // Act
      const err = configError({ AMQP_URL: `${nodes(2)},http://rabbit-3:5672` });

      // Assert
      expect(keysNamedIn(err.message)).toEqual(['AMQP_URL']);
      expect(err.message).toContain('entry 3 ("http://rabbit-3:5672") is not one');
    });
  });

  describe('SMTP_MAX_RATE (emails per second, all mailers together)', () => {
    it('when it is not set, then there is no cap', () => {
      expect(loadMailerConfig({}).SMTP_MAX_RATE).toBeUndefined();
    });

    it.each([
      ['1', 1],
      ['14', 14],
      ['10000', 10_000],
    ])('when it is %p, then the cap is %i per second', (value, rate) => {
      expect(loadMailerConfig({ SMTP_MAX_RATE: value }).SMTP_MAX_RATE).toBe(rate);
    });

    it.each(['0', '10001', '1.5', '-1', '+5', '1e3', 'ten', '14/s'])(
      'when it is %p, then the error names it',
      (value) => {
        // Act
        const err = configError({ SMTP_MAX_RATE: value });

        // Assert
        expect(keysNamedIn(err.message)).toEqual(['SMTP_MAX_RATE']);
        expect(detailPaths(err)).toEqual(['SMTP_MAX_RATE']);
      },
    );

    it('when it is not a whole number, then the error says what it takes', () => {
      expect(configError({ SMTP_MAX_RATE: '14/s' }).message).toContain(
        'SMTP_MAX_RATE: must be a whole number from 1 to 10000, e.g. 14',
      );
    });
  });

  describe('SMTP_RATE_LIMIT_PAUSE_MS (the first pause after a rate-limit reply)', () => {
    it.each([
      ['250ms', 250],
      ['2s', 2000],
      ['1m', 60_000],
      ['60000', 60_000],
    ])('when it is %p, then the pause is %i ms', (value, ms) => {
      expect(loadMailerConfig({ SMTP_RATE_LIMIT_PAUSE_MS: value }).SMTP_RATE_LIMIT_PAUSE_MS).toBe(ms);
    });

    it.each(['61s', '2m', '0', '5 s'])('when it is %p, then the error names it', (value) => {
      // Act
      const err = configError({ SMTP_RATE_LIMIT_PAUSE_MS: value });

      // Assert
      expect(keysNamedIn(err.message)).toEqual(['SMTP_RATE_LIMIT_PAUSE_MS']);
      expect(detailPaths(err)).toEqual(['SMTP_RATE_LIMIT_PAUSE_MS']);
    });

    it('when it is over a minute, then the error says so', () => {
      expect(configError({ SMTP_RATE_LIMIT_PAUSE_MS: '90s' }).message).toContain(
        'SMTP_RATE_LIMIT_PAUSE_MS: must be at most 1m (60000 ms)',
      );
    });
  });

  describe('duration keys', () => {
    // Each key with what its rules compare it with, set so that every form below passes them.
    const durationKeys: [string, NodeJS.ProcessEnv][] = [
      ['PUBLISH_CONFIRM_TIMEOUT_MS', {}],
      ['SHUTDOWN_TIMEOUT_MS', {}],
      ['HTTP_HEADERS_TIMEOUT_MS', { HTTP_REQUEST_TIMEOUT_MS: '2h' }],
      ['HTTP_REQUEST_TIMEOUT_MS', { HTTP_HEADERS_TIMEOUT_MS: '1' }],
      ['UNKNOWN_OUTCOME_GRACE_MS', { SMTP_SEND_TIMEOUT_MS: '1' }],
      ['SMTP_CONNECTION_TIMEOUT_MS', {}],
      ['SMTP_GREETING_TIMEOUT_MS', {}],
      ['SMTP_SOCKET_TIMEOUT_MS', {}],
      ['SMTP_SEND_TIMEOUT_MS', { UNKNOWN_OUTCOME_GRACE_MS: '2h' }],
      ['SMTP_CHECK_INTERVAL_MS', {}],
      ['FAULT_PAUSE_BEFORE_ACK_MS', {}],
      ['FAULT_PAUSE_BEFORE_RECORD_MS', {}],
      ['WEBHOOK_TIMEOUT_MS', {}],
    ];
    const { good: goodCases, bad: badCases } = durationCases(durationKeys);

    it.each(goodCases)('when %s is %p, then it is %i milliseconds', (key, text, ms, rest) => {
      // Act
      const config = loadMailerConfig({ ...rest, [key]: text });

      // Assert
      expect(config).toHaveProperty(key, ms);
    });

    it.each(badCases)(
      'when %s is %p, then the error names that key, only it, and the accepted forms',
      (key, text, rest) => {
        // Act
        const err = configError({ ...rest, [key]: text });

        // Assert
        expect(keysNamedIn(err.message)).toEqual([key]);
        expect(detailPaths(err)).toEqual([key]);
        expect(err.message).toContain(
          `${key}: must be a positive duration: a whole number with a unit ms, s, m or h (250ms, 30s, 2m, 1h), ` +
            'or a bare whole number of milliseconds (5000)',
        );
      },
    );
  });

  describe('shop settings (the email shows them)', () => {
    it.each([
      ['a display name', { MAIL_FROM: 'Fine Teas <orders@tea.example>' }, 'Fine Teas'],
      ['a bare address', { MAIL_FROM: 'orders@tea.example' }, 'tea.example'],
      ['an empty display name', { MAIL_FROM: '<orders@tea.example>' }, 'tea.example'],
      ['SHOP_NAME set', { MAIL_FROM: 'Fine Teas <orders@tea.example>', SHOP_NAME: '  Tea & Co.  ' }, 'Tea & Co.'],
    ])('when MAIL_FROM has %s, then SHOP_NAME is %p', (_case, env, expected) => {
      // Act
      const config = loadMailerConfig(env);

      // Assert
      expect(config.SHOP_NAME).toBe(expected);
    });

    it.each([
      ['neither is set', {}, undefined],
      ['only SUPPORT_EMAIL is set', { SUPPORT_EMAIL: 'help@tea.example' }, 'help@tea.example'],
      [
        'both are set',
        { SUPPORT_EMAIL: 'help@tea.example', REPLY_TO: 'Tea Team <team@tea.example>' },
        'Tea Team <team@tea.example>',
      ],
    ])('when %s, then REPLY_TO is %p', (_case, env, expected) => {
      // Act
      const config = loadMailerConfig(env);

      // Assert
      expect(config.REPLY_TO).toBe(expected);
    });

    it('when every shop setting is given, then each is kept as given (the colour in lower case)', () => {
      // Arrange
      const env = {
        SHOP_URL: 'https://tea.example/',
        SHOP_LOGO_URL: 'https://cdn.tea.example/logo.png',
        BRAND_COLOR: '#AA3300',
        SUPPORT_EMAIL: 'help@tea.example',
        COMPANY_ADDRESS: 'Fine Teas Ltd, 1 Leaf Lane, London',
      };

      // Act
      const config = loadMailerConfig(env);

      // Assert
      expect(config).toMatchObject({ ...env, BRAND_COLOR: '#aa3300' });
    });

    it.each([
      ['SHOP_URL', 'http://tea.example'],
      ['SHOP_URL', 'tea.example'],
      ['SHOP_URL', 'https://user:pass@tea.example'],
      ['SHOP_LOGO_URL', 'javascript:alert(1)'],
      ['SHOP_LOGO_URL', 'https://cdn.tea.example/a logo.png'],
      ['BRAND_COLOR', 'blue'],
      ['BRAND_COLOR', '#abc'],
      ['SUPPORT_EMAIL', 'Tea Help <help@tea.example>'],
      ['SUPPORT_EMAIL', 'help'],
      ['COMPANY_ADDRESS', 'Fine Teas Ltd\n1 Leaf Lane'],
      ['COMPANY_ADDRESS', 'x'.repeat(301)],
      ['SHOP_NAME', 'Tea\u202eShop'],
      ['REPLY_TO', 'not an address'],
    ])('when %s is %p, then the error names it', (key, value) => {
      // Act
      const err = configError({ [key]: value });

      // Assert
      expect(keysNamedIn(err.message)).toEqual([key]);
    });
  });

  describe('MAIL_FROM', () => {
    it.each([
      ['not an address', 'not an address'],
      ['no address between the brackets', 'Name <not an address>'],
      ['two "@"', 'a@b@c.example'],
      ['two "@" between the brackets', 'Name <a@b@c.example>'],
      ['empty brackets', 'Name <>'],
      ['no domain', 'a@'],
      ['no local part', 'Name <@b.example>'],
      ['a display name alone', '"Name"'],
      ['a list of two', 'Name <a@b.example>, other@c.example'],
      ['a list separated by ";"', 'a@b.example;c@d.example'],
      ['a group', 'Shop: a@b.example;'],
      ['an empty group', 'undisclosed-recipients:;'],
      ['an unclosed bracket', '<a@b.example'],
      ['a space in the bracketed address', 'Name <a b@c.example>'],
      ['a trailing comment', 'a@b.example (comment)'],
    ])('when it is %s (%p), then the error names MAIL_FROM and the forms allowed', (_what, value) => {
      // Act
      const err = configError({ MAIL_FROM: value });

      // Assert
      expect(keysNamedIn(err.message)).toEqual(['MAIL_FROM']);
      expect(detailPaths(err)).toEqual(['MAIL_FROM']);
      expect(err.message).toContain('MAIL_FROM: must be an address or "Name <address>"');
    });
  });

  describe('when one setting is invalid', () => {
    it.each([
      ['PORT', 'abc'],
      ['PORT', '70000'],
      ['HOST', 'localhost'],
      ['HOST', '0.0.0.0:3001'],
      ['HOST', '256.1.1.1'],
      ['AMQP_URL', 'http://x'],
      ['ORDERS_EXCHANGE', 'amq.foo'],
      ['MAILER_QUEUE', 'amq.mailer'],
      ['DEAD_LETTER_EXCHANGE', 'dead letter'],
      ['DELIVERY_LIMIT', '0'],
      ['PREFETCH', '0'],
      ['PREFETCH', '1001'],
      ['PREFETCH', '2.5'],
      ['RETRY_DELAYS', '30s,,2m'],
      ['RETRY_DELAYS', '30x'],
      ['RETRY_DELAYS', '0s'],
      ['UNKNOWN_OUTCOME_GRACE_MS', '1000'],
      ['UNKNOWN_OUTCOME_GRACE_MS', '120000'],
      ['DATABASE_URL', 'mysql://x'],
      ['DATABASE_URL', 'postgres://postgres@127.0.0.1:notaport/test'],
      ['DATABASE_SCHEMA', 'Bad-Schema'],
      ['ADMIN_TOKEN', 'short'],
      ['SMTP_URL', 'http://x'],
      ['SMTP_POOL_SIZE', '0'],
      ['SMTP_SOCKET_TIMEOUT_MS', 'never'],
      ['SMTP_CHECK_INTERVAL_MS', '0'],
      ['SMTP_CHECK_INTERVAL_MS', 'often'],
      ['MAIL_FROM', 'not an address'],
      ['MAIL_FROM', 'Name <not an address>'],
      ['MAIL_FROM', 'a@b@c.example'],
      ['HTTP_HEADERS_TIMEOUT_MS', '0'],
      ['HTTP_HEADERS_TIMEOUT_MS', '20000'],
      ['HTTP_REQUEST_TIMEOUT_MS', 'slow'],
      ['HTTP_REQUEST_TIMEOUT_MS', '0'],
      ['LOG_LEVEL', 'loud'],
    ])('when %s is %p, then the error names that key and only that key', (key, value) => {
      // Act
      const err = configError({ [key]: value });

      // Assert
      expect(err.message).toMatch(/^Invalid configuration:/);
      expect(keysNamedIn(err.message)).toEqual([key]);
      expect(detailPaths(err)).toEqual([key]);
    });

    it('when MAIL_FROM is not an address, then the message says which forms are allowed', () => {
      // Act
      const err = configError({ MAIL_FROM: 'not an address' });

      // Assert
      expect(err.message).toContain('MAIL_FROM: must be an address or "Name <address>"');
    });

    it('when HTTP_HEADERS_TIMEOUT_MS exceeds HTTP_REQUEST_TIMEOUT_MS, then the message says the headers are part of the request', () => {
      // Act
      const err = configError({ HTTP_HEADERS_TIMEOUT_MS: '3000', HTTP_REQUEST_TIMEOUT_MS: '2000' });

      // Assert
      expect(err.message).toContain('HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS');
      expect(detailPaths(err)).toEqual(['HTTP_HEADERS_TIMEOUT_MS']);
    });

    it('when SMTP_URL is not an SMTP URL, then the message says what is expected', () => {
      // Act
      const err = configError({ SMTP_URL: 'http://x' });

      // Assert
      expect(err.message).toContain('SMTP_URL: must be an smtp:// or smtps:// URL');
    });
  });

  describe('when several settings are invalid', () => {
    it('then the error names every bad key and no good one', () => {
      // Arrange
      const env = {
        PORT: '70000',
        AMQP_URL: 'http://x',
        ORDERS_EXCHANGE: 'amq.foo',
        PREFETCH: '0',
        SMTP_URL: 'http://x',
        MAIL_FROM: 'not an address',
        LOG_LEVEL: 'loud',
        SMTP_POOL_SIZE: '3',
        MAILER_QUEUE: 'mailer.q',
      };
      const bad = ['AMQP_URL', 'LOG_LEVEL', 'MAIL_FROM', 'ORDERS_EXCHANGE', 'PORT', 'PREFETCH', 'SMTP_URL'];

      // Act
      const err = configError(env);

      // Assert
      expect(keysNamedIn(err.message).sort()).toEqual(bad);
      expect(detailPaths(err).sort()).toEqual(bad);
    });
  });
});
