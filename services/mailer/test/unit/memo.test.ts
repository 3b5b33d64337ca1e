import { memoize } from '../../src/domain/memo';

describe('memoize', () => {
  it('when a key is asked for again, then the value built the first time is returned without building again', () => {
    let builds = 0;
    const format = memoize((locale) => {
      builds += 1;
      return new Intl.NumberFormat(locale);
    });

    const first = format('de-DE');
    const second = format('de-DE');

    expect(second).toBe(first);
    expect(builds).toBe(1);
  });

  it('when the store reaches its bound, then it starts over instead of growing', () => {
    let builds = 0;
    const id = memoize((key) => {
      builds += 1;
      return { key };
    }, 2);

    id('a');
    id('b');
    id('c'); // full: emptied, then holds c
    id('c');
    id('a');

    expect(builds).toBe(4);
  });

  it('when building throws, then nothing is remembered and the next call throws again', () => {
    let builds = 0;
    const locale = memoize((tag) => {
      builds += 1;
      return new Intl.Locale(tag);
    });

    expect(() => locale('not a locale')).toThrow(RangeError);
    expect(() => locale('not a locale')).toThrow(RangeError);
    expect(builds).toBe(2);
  });
});
