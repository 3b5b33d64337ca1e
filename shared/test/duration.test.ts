import { durationMsSchema, durationSchema, parseDuration } from '../src/config';

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

  it.each([
    ['5', 5000],
    ['250ms', 250],
    ['30s', 30_000],
    ['2m', 120_000],
  ])('when a bare number is read in seconds and the text is %j, then it is %i ms', (text, expected) => {
    // Act
    const ms = parseDuration(text, 's');

    // Assert
    expect(ms).toBe(expected);
  });
});

describe('durationSchema', () => {
  it.each([
    ['5000', 5000],
    ['250ms', 250],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
  ])('when a millisecond key is %j, then it is %i', (text, expected) => {
    expect(durationMsSchema.parse(text)).toBe(expected);
  });

  it.each([
    ['5', 5],
    ['5000ms', 5],
    ['30s', 30],
    ['2m', 120],
    ['1h', 3600],
  ])('when a seconds key is %j, then it is %i', (text, expected) => {
    expect(durationSchema('s').parse(text)).toBe(expected);
  });

  it.each([
    ['ms', '0'],
    ['ms', '0s'],
    ['ms', '1.5'],
    ['ms', '1e3'],
    ['ms', '5 s'],
    ['s', '1500ms'],
    ['s', '999ms'],
    ['s', '0'],
  ] as const)('when a %s key is %j, then the one issue names the accepted forms', (unit, text) => {
    // Act
    const result = durationSchema(unit).safeParse(text);

    // Assert
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message)).toEqual([
      expect.stringMatching(
        /^must be a positive duration: a whole number with a unit ms, s, m or h .*, or a bare whole number of (milliseconds|seconds)/,
      ),
    ]);
  });

  it.each([
    ['ms', '2147483647', 2147483647],
    ['ms', '596h', 2145600000],
    ['s', '2147483', 2147483],
  ] as const)(
    'when a %s key is %j (within the longest timer Node can set), then it is accepted',
    (unit, text, expected) => {
      expect(durationSchema(unit).parse(text)).toBe(expected);
    },
  );

  it.each([
    ['ms', '2147483648'],
    ['ms', '597h'],
    ['ms', '9007199254740992'],
    ['s', '2147484'],
  ] as const)(
    'when a %s key is %j (past the longest timer Node can set), then the one issue names the limit',
    (unit, text) => {
      // Act
      const result = durationSchema(unit).safeParse(text);

      // Assert
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((i) => i.message)).toEqual([
        'must be at most 596h (2147483647 ms, the longest timer Node can set)',
      ]);
    },
  );
});
