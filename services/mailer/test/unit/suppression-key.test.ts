import { suppressionKeyOf } from '../../src/domain/suppression';

describe('suppressionKeyOf (how the suppression list compares addresses)', () => {
  it.each([
    ['ada@example.com', 'ada@example.com', 'example.com'],
    ['ada@EXAMPLE.com', 'ada@example.com', 'example.com'],
    ['Ada@Example.COM', 'Ada@example.com', 'example.com'],
    ['ada@Bücher.Example', 'ada@xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['ada@xn--bcher-kva.example', 'ada@xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['ada@пример.рф', 'ada@xn--e1afmkfd.xn--p1ai', 'xn--e1afmkfd.xn--p1ai'],
  ])('when the address is %s, then its key is %s in domain %s', (address, key, domain) => {
    // Act
    const result = suppressionKeyOf(address);

    // Assert
    expect(result).toEqual({ ok: true, key, domain });
  });

  it('when two addresses differ only in the case of the local part, then their keys differ', () => {
    // Act
    const upper = suppressionKeyOf('Ada@example.com');
    const lower = suppressionKeyOf('ada@example.com');

    // Assert
    expect(upper.ok && lower.ok && upper.key !== lower.key).toBe(true);
  });

  it.each([
    'not an address',
    'ada@',
    '"Ada" <ada@example.com>',
    'ada@example.com, bob@example.com',
    'üser@example.com',
  ])('when the input is %j, then it is refused with a message', (input) => {
    // Act
    const result = suppressionKeyOf(input);

    // Assert
    expect(result).toEqual({ ok: false, message: expect.stringMatching(/^Invalid email address: /) });
  });
});
