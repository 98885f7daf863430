/** Shared by FileSource and its child (file-reader-child.ts). */
export const FileReaderExit = { OK: 0, OPEN_FAILED: 2, READ_FAILED: 3 } as const;
export type FileReaderExit = (typeof FileReaderExit)[keyof typeof FileReaderExit];

/** Bytes before each packet in the child's stream: ts_sec, ts_usec, capLen, wireLen. */
export const RECORD_HEADER_BYTES = 16;
