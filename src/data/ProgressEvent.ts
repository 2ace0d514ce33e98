/** Progress of a long step: `done` of `total` units. */
export interface ProgressEvent {
  phase: 'download' | 'decode';
  /** Bytes (of a download, or of an archive being decoded) or images (of a folder). */
  unit: 'bytes' | 'images';
  done: number;
  /** Undefined when unknown (a download without Content-Length). */
  total?: number;
}
