import { escapeHtml, html, trustedHtml } from './html.template.js';

describe('html template: text is escaped, always', () => {
  it('escapes interpolated text in content and attributes, so markup in data stays inert', () => {
    const payload = '<script>alert(1)</script><img src=x onerror="alert(2)">';
    const rendered = html`<p title="${payload}">${payload}</p>`.toString();
    expect(rendered).not.toContain('<script>');
    expect(rendered).not.toContain('<img');
    expect(rendered).toBe(
      '<p title="&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;">' +
        '&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;</p>',
    );
    expect(escapeHtml(`'\`&`)).toBe('&#39;&#96;&amp;');
  });

  it('keeps nested templates and trusted constants, joins arrays, drops nullish and false', () => {
    const rows = ['a<b', 'c'].map((text) => html`<li>${text}</li>`);
    expect(html`<ul>${rows}</ul>${undefined}${null}${false}${trustedHtml('<hr>')}${0}`.toString()).toBe('<ul><li>a&lt;b</li><li>c</li></ul><hr>0');
    expect(html`${new Date(Date.UTC(2026, 0, 2))}`.toString()).toBe('2026-01-02T00:00:00.000Z');
  });
});
