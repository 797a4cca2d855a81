/** A bundle that is missing, damaged, or asks for something this runtime does not do. */
export class BundleError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BundleError';
  }
}

/** A caller's mistake: a bad argument or input. */
export class InputError extends Error {
  constructor(message) {
    super(message);
    this.name = 'InputError';
  }
}

/** An options object may name only `known` keys: a misspelt or foreign option is refused, not ignored. */
export function checkOptions(options, known) {
  if (options === null || typeof options !== 'object') throw new InputError('options must be an object');
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length) throw new InputError(`unknown option(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
}
