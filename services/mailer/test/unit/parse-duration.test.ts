import { parseDuration } from '../../src/config';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['6h', 21_600_000],
    ['500', 500],
    ['0', 0],
    [' 30s ', 30_000],
    ['\t2m\n', 120_000],
  ])('when the text is %j, then it is %i ms', (text, expected) => {
    // Act
    const ms = parseDuration(text);

    // Assert
    expect(ms).toBe(expected);
  });

  it.each(['', '   ', '1d', '-1s', '1.5s', 's', 'ms', '30 s', '30S', '1h30m', '30sec', 'abc', '+5s'])(
    'when the text is %j, then it is not a duration',
    (text) => {
      // Act
      const ms = parseDuration(text);

      // Assert
      expect(ms).toBeNull();
    },
  );
});
