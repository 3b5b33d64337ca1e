import { DEFAULT_PREVIEW_OUT, parsePreviewArgs } from '../../src/entry-points/cli/preview-args';

describe('npm run preview arguments', () => {
  it('when only a file is given, then the defaults apply: preview/, the file name, no screenshots', () => {
    expect(parsePreviewArgs(['samples/full.json'])).toEqual({
      command: 'preview',
      file: 'samples/full.json',
      out: DEFAULT_PREVIEW_OUT,
      name: 'full',
      png: false,
      fetchImages: false,
    });
  });

  it('when every option is given, in any order, then each is read', () => {
    expect(
      parsePreviewArgs([
        '--png',
        '--locale',
        'de-CH',
        'samples/lang-de.json',
        '--out=docs/screenshots',
        '--name',
        'order-full',
        '--fetch-images',
      ]),
    ).toEqual({
      command: 'preview',
      file: 'samples/lang-de.json',
      locale: 'de-CH',
      out: 'docs/screenshots',
      name: 'order-full',
      png: true,
      fetchImages: true,
    });
  });

  it('when the file has no .json ending, then the name is the whole file name', () => {
    expect(parsePreviewArgs(['/tmp/order'])).toMatchObject({ name: 'order' });
    expect(parsePreviewArgs(['orders/Big.JSON'])).toMatchObject({ name: 'Big' });
  });

  it.each([['--help'], ['-h'], ['samples/full.json', '--help']])('when %p is given, then it is help', (...argv) => {
    expect(parsePreviewArgs(argv)).toEqual({ command: 'help' });
  });

  it.each([
    [[], 'Give the order file to preview'],
    [['a.json', 'b.json'], 'Give one order file, got 2: a.json b.json'],
    [['a.json', '--frobnicate'], "Unknown option '--frobnicate'"],
    [['a.json', '-x'], "Unknown option '-x'"],
    [['a.json', '--locale'], "Option '--locale <value>' argument missing"],
    [['a.json', '--out'], "Option '--out <value>' argument missing"],
    [['a.json', '--locale', ''], '--locale needs a value'],
    [['a.json', '--out', '  '], '--out needs a value'],
    [['a.json', '--locale', '--png'], "Option '--locale' argument is ambiguous"],
    [['a.json', '--locale=--png'], '--locale needs a value, got the option "--png"'],
    [['a.json', '--png=yes'], "Option '--png' does not take an argument"],
    [['a.json', '--fetch-images'], '--fetch-images only makes sense with --png'],
    [['a.json', '--name', '../escape'], '--name must be 1-100 letters, digits, ".", "_" or "-"'],
    [['a.json', '--name', '.hidden'], '--name must be'],
    [['my order.json'], '(from the file name; give --name)'],
  ])('when the arguments are %p, then it is a usage error containing %p', (argv, message) => {
    const result = parsePreviewArgs(argv);

    expect(result.command).toBe('usage_error');
    expect(result).toMatchObject({ message: expect.stringContaining(message) });
  });
});
