/** The HTML reports' page shell (cli/report-html/page-shell.ts): one self-contained file. */
import { describe, expect, it } from 'vitest';
import { renderReportPage } from '../../../cli/report-html/page-shell.ts';

describe('report page shell', () => {
  it('inlines the chart library and the data, and links nothing outside the file', () => {
    const html = renderReportPage({ title: 'a <title>', data: { text: '</script><img src=x>' }, pageScript: 'ReportKit.run(function () {});' });
    expect(html).toContain('uPlot');
    expect(html).toContain('a &#60;title&#62;');
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/\bfetch\(|XMLHttpRequest|import\(/);
    expect(html).not.toContain('</script><img');
  });
});
