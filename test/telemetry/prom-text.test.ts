import { describe, expect, it } from 'vitest';
import { parsePrometheusText, samples, value } from './prom-text.js';

describe('parsePrometheusText', () => {
  it('reads HELP, TYPE, escaped labels, histogram series and special values', () => {
    const m = parsePrometheusText(`# HELP a_total Things\\nwith a newline.
# TYPE a_total counter
a_total{route="ns/r",msg="say \\"hi\\"\\\\ \\n"} 3
a_total 1 1700000000000
# a plain comment
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="+Inf"} 2
h_sum 0.3
h_count 2
g NaN
`);
    expect(m.get('a_total')).toMatchObject({ type: 'counter', help: 'Things\nwith a newline.' });
    expect(value(m, 'a_total', { route: 'ns/r' })).toBe(3);
    expect(samples(m, 'a_total', { route: 'ns/r' })[0]?.labels.msg).toBe('say "hi"\\ \n');
    expect(samples(m, 'a_total')).toHaveLength(2);
    expect(m.get('h')?.samples).toHaveLength(4);
    expect(value(m, 'h_bucket', { le: '+Inf' })).toBe(2);
    expect(value(m, 'h_count')).toBe(2);
    expect(Number.isNaN(value(m, 'g'))).toBe(true);
  });

  it('refuses malformed lines', () => {
    expect(() => parsePrometheusText('x{a="1" 2')).toThrow();
    expect(() => parsePrometheusText('x{a=1} 2')).toThrow();
    expect(() => parsePrometheusText('x{a="1",a="2"} 2')).toThrow();
    expect(() => parsePrometheusText('x abc')).toThrow();
    expect(() => parsePrometheusText('# TYPE x bogus')).toThrow();
  });
});
