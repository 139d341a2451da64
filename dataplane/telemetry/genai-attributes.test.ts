import { describe, expect, it } from 'vitest';
import { ResponseFacts } from './genai-attributes.js';

describe('ResponseFacts', () => {
  // An upstream may repeat a finish reason on every chunk: one entry per chunk gave ["stop","stop","stop"].
  it('keeps one finish reason per choice index, the last one said', () => {
    const facts = new ResponseFacts();
    for (let i = 0; i < 1000; i++) facts.observe({ id: 'c', model: 'm', choices: [{ index: 0, finish_reason: 'stop' }] });
    facts.observe({ choices: [{ index: 1, finish_reason: 'length' }] });
    facts.observe({ choices: [{ index: 0, finish_reason: 'tool_calls' }] });
    expect(facts.finishReasons).toEqual(['tool_calls', 'length']);
    expect(facts.id).toBe('c');
  });

  it('keeps at most as many finish reasons as an answer may have choices', () => {
    const facts = new ResponseFacts();
    for (let i = 0; i < 1000; i++) facts.observe({ choices: [{ index: i, finish_reason: 'stop' }] });
    expect(facts.finishReasons).toHaveLength(128);
  });

  it('takes a choice without an index by its position', () => {
    const facts = new ResponseFacts();
    facts.observe({ choices: [{ finish_reason: 'stop' }, { finish_reason: 'length' }] });
    expect(facts.finishReasons).toEqual(['stop', 'length']);
  });
});

describe('ResponseFacts from a hostile upstream', () => {
  it('keeps at most 256 characters of each string it names itself by: they go onto spans', () => {
    const facts = new ResponseFacts();
    const huge = 'x'.repeat(4 * 1024 * 1024);
    facts.observe({ id: huge, model: huge, choices: [{ index: 0, finish_reason: huge }] });
    expect(facts.id).toHaveLength(256);
    expect(facts.model).toHaveLength(256);
    expect(facts.finishReasons[0]).toHaveLength(256);
  });
});
