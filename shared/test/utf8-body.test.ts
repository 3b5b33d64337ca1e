import type { IncomingMessage, ServerResponse } from 'node:http';
import { INVALID_UTF8_BODY_ERROR_TYPE, verifyUtf8JsonBody } from '../src/utf8-body';

const req = {} as IncomingMessage;
const res = {} as ServerResponse;

/** Runs the verifier; returns what it threw, or undefined. */
function verify(body: Buffer, charset: string): unknown {
  try {
    verifyUtf8JsonBody(req, res, body, charset);
    return undefined;
  } catch (err) {
    return err;
  }
}

describe('verifyUtf8JsonBody (express.json verify option)', () => {
  it.each([
    ['ASCII JSON, no charset declared (body-parser passes its default utf-8)', '{"a":1}', 'utf-8'],
    ['UTF-8 JSON with é and an emoji', '{"name":"Zoë 👩‍💻"}', 'utf-8'],
    ['a declared "UTF-8" in upper case', '{"a":1}', 'UTF-8'],
  ])('when the body is %s, then it passes', (_label, text, charset) => {
    expect(verify(Buffer.from(text, 'utf8'), charset)).toBeUndefined();
  });

  it.each([
    ['Latin-1 é', Buffer.from('{"name":"Zo\u00eb"}', 'latin1')],
    ['a lone continuation byte', Buffer.from([0x7b, 0x80, 0x7d])],
    ['an encoded surrogate (CESU-8)', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])],
    ['an overlong encoding', Buffer.from([0x22, 0xc0, 0xaf, 0x22])],
  ])('when the body holds %s, then it is refused with status 400 and the invalid-UTF-8 type', (_label, body) => {
    // Act
    const err = verify(body, 'utf-8');

    // Assert
    expect(err).toMatchObject({ status: 400, type: INVALID_UTF8_BODY_ERROR_TYPE });
    expect((err as Error).message).toContain('not valid UTF-8');
  });

  it.each(['utf-16', 'utf-16le', 'utf-32', 'iso-8859-1'])(
    'when the declared charset is %s, then it is refused with 415 charset.unsupported',
    (charset) => {
      // Act
      const err = verify(Buffer.from('{"a":1}', 'utf16le'), charset);

      // Assert
      expect(err).toMatchObject({ status: 415, type: 'charset.unsupported' });
      expect((err as Error).message).toContain(charset.toUpperCase());
    },
  );
});
