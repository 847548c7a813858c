// A tagged template that escapes every interpolated value unless it is already `Html`. It is the
// whole of the console's templating: a template engine (Handlebars, EJS, Nunjucks…) would add a
// dependency and a second syntax for what is, here, a dozen pages built from plain functions,
// and it would not escape more safely than this single rule: text is escaped, always.

/** Markup that is safe to insert as is: made only by {@link html} (or {@link trustedHtml} for constants). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** The text with every character that means something in HTML (content or quoted attribute) escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (character) => ESCAPES[character]!);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.value;
  if (value === undefined || value === null || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (value instanceof Date) return escapeHtml(value.toISOString());
  return escapeHtml(String(value));
}

/** Builds markup: literal parts as written, every value escaped (arrays joined, `Html` kept, nullish and false empty). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((value, index) => {
    out += render(value) + strings[index + 1]!;
  });
  return new Html(out);
}

/** Marks a constant string of markup as safe. Never pass it data. */
export function trustedHtml(markup: string): Html {
  return new Html(markup);
}
