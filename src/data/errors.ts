/**
 * The error the data module throws for anything a network, a disk or an archive can get wrong.
 *
 * `source` names the URL, file or folder at fault, so a CLI can print the message as it is and
 * a caller can tell which input to fix.
 */
export class DataError extends Error {
  /** The URL, file or folder the error is about. */
  readonly source: string;

  constructor(message: string, source: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataError';
    this.source = source;
  }
}
