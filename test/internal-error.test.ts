import { describe, expect, it } from 'vitest';
import { DiarkisError } from '../src/client/errors';
import { fromNative } from '../src/client/validate';
import { loadNative } from '../src/native';

describe('std:: exceptions on the JS thread', () => {
  it('become a DiarkisError internal-error instead of ending the process', () => {
    const addon = loadNative();
    let caught: unknown;
    try {
      addon.throwStdForTest();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Error);
    const e = fromNative(caught);
    expect(e).toBeInstanceOf(DiarkisError);
    expect(e.code).toBe('internal-error');
    expect(e.message).toContain('std exception inside a binding');
    // The addon still works afterwards.
    expect(addon.errorCodes).toContain('internal-error');
  });
});
