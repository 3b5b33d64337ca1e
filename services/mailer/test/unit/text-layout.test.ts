import { displayWidth, TEXT_WIDTH, wrapLine, wrapText } from '../../src/adapters/templates/text-layout';

describe('displayWidth', () => {
  it.each([
    ['ASCII', 'Widget', 6],
    ['accented Latin (precomposed)', 'Größe', 5],
    ['a combining accent', 'e\u0301', 1],
    ['Arabic', 'طلب', 3],
    ['Japanese (wide)', 'ご注文', 6],
    ['Chinese (wide)', '订单', 4],
    ['an emoji', '🎉', 2],
    ['bidi isolates (invisible)', '\u2068Ada\u2069', 3],
  ])('when the text is %s (%p), then it takes %i columns', (_case, text, columns) => {
    // Act / Assert
    expect(displayWidth(text)).toBe(columns);
  });
});

describe('wrapLine', () => {
  it('when a line fits, then it is kept as it is', () => {
    // Arrange
    const line = `- ${'x'.repeat(TEXT_WIDTH - 2)}`;

    // Act / Assert
    expect(wrapLine(line)).toEqual([line]);
  });

  it('when a list item is too long, then it is folded between words with the text indented under its start', () => {
    // Arrange
    const line = '- Organic cotton long-sleeve shirt with pocket, limited edition x 2: €39.98';

    // Act
    const lines = wrapLine(line, 40);

    // Assert
    expect(lines).toEqual(['- Organic cotton long-sleeve shirt with', '  pocket, limited edition x 2: €39.98']);
  });

  it('when an indented line is too long, then continuation lines keep its indentation', () => {
    // Act
    const lines = wrapLine('  Standard delivery to the Scottish Highlands and Islands', 30);

    // Assert
    expect(lines).toEqual(['  Standard delivery to the', '  Scottish Highlands and', '  Islands']);
  });

  it('when a URL does not fit, then it moves to a line of its own, whole', () => {
    // Arrange
    const url = 'https://shop.example/account/orders/A-2001?token=0123456789abcdef0123456789abcdef';

    // Act
    const lines = wrapLine(`View your order: ${url}`);

    // Assert
    expect(lines).toEqual(['View your order:', url]);
  });

  it('when Japanese text is too long, then it is folded between words and no line exceeds the width in columns', () => {
    // Arrange
    const line = 'ご注文ありがとうございます。ご注文を承りました。発送の準備が整いましたら、改めてお知らせいたします。';

    // Act
    const lines = wrapLine(line, 40);

    // Assert
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.join('')).toBe(line);
    for (const folded of lines) expect(displayWidth(folded)).toBeLessThanOrEqual(40);
    // A line never starts with closing punctuation.
    for (const folded of lines) expect(folded).not.toMatch(/^[、。]/);
  });

  it('when an amount with a no-break space would cross the edge, then it stays in one piece', () => {
    // Act
    const lines = wrapLine('- Organic cotton long-sleeve shirt x 1.000: 999.999.990,00\u00a0€', 50);

    // Assert
    expect(lines).toEqual(['- Organic cotton long-sleeve shirt x 1.000:', '  999.999.990,00\u00a0€']);
  });
});

describe('wrapText', () => {
  it('when a text has short and long lines, then only the long ones are folded and blank lines stay', () => {
    // Arrange
    const text = `Order confirmed\n\n${'word '.repeat(20).trim()}\nTotal: €1.00\n`;

    // Act
    const result = wrapText(text, 40);

    // Assert
    expect(result.split('\n')).toEqual([
      'Order confirmed',
      '',
      'word word word word word word word word',
      'word word word word word word word word',
      'word word word word',
      'Total: €1.00',
      '',
    ]);
  });
});
