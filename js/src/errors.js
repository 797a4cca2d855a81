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
