import { describe, expect, it } from 'vitest';
import { hoistGlobalFlags } from '../../../src/cli/argv.js';
import { didYouMean, typedWords } from '../../../src/cli/suggest.js';

const IDS = ['download:add', 'download:list', 'download:info', 'agent:status', 'agent:stop', 'stats', 'events', 'target:add', 'target:drain'];
const TOPICS = ['download', 'agent', 'target'];
const guess = (line: string) => didYouMean(line.split(' '), IDS, TOPICS);

describe('did you mean', () => {
  it('finds the command a typo meant, in the topic and in the verb', () => {
    expect(guess('downlod list')).toBe('download list');
    expect(guess('download lst')).toBe('download list');
    expect(guess('download ad http://x')).toBe('download add');
    expect(guess('agnet stauts')).toBe('agent status');
    expect(guess('stat')).toBe('stats');
    expect(guess('downlod')).toBe('download');
  });

  it('suggests nothing for words too far from any command, or for what is already right', () => {
    expect(guess('frobnicate')).toBeNull();
    expect(guess('download frobnicate')).toBeNull();
    expect(guess('download list')).toBeNull();
    // Two letters are not a typo of a four-letter word.
    expect(guess('xy')).toBeNull();
  });

  it('reads the typed words back from argv, so a URL keeps its colon', () => {
    expect(typedWords('download:ad:http://x', ['download', 'ad', 'http://x', '--wait'])).toEqual(['download', 'ad', 'http://x']);
    expect(typedWords('downlod:list', ['--json', 'downlod', 'list'])).toEqual(['downlod', 'list']);
    expect(typedWords('a:b', ['c'])).toEqual(['a', 'b']);
  });
});

describe('global flags before the command', () => {
  it('move after the command words, with their values, both spellings', () => {
    expect(hoistGlobalFlags(['--socket', '/s', 'agent', 'status'])).toEqual(['agent', 'status', '--socket', '/s']);
    expect(hoistGlobalFlags(['--state-dir=/d', '--socket', '/s', 'download', 'add', 'http://x', '--wait'])).toEqual(['download', 'add', 'http://x', '--wait', '--state-dir=/d', '--socket', '/s']);
    expect(hoistGlobalFlags(['--socket', '/s', 'talk', '--', 'proxy info'])).toEqual(['talk', '--socket', '/s', '--', 'proxy info']);
  });

  it('leave everything else alone', () => {
    expect(hoistGlobalFlags(['agent', 'status', '--socket', '/s'])).toEqual(['agent', 'status', '--socket', '/s']);
    expect(hoistGlobalFlags(['--help'])).toEqual(['--help']);
    expect(hoistGlobalFlags(['--socket'])).toEqual(['--socket']);
    expect(hoistGlobalFlags(['--socket', '/s'])).toEqual(['--socket', '/s']);
  });
});
