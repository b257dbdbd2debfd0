/** Size of one built console file. */
export interface BuiltFile {
  bytes: number;
  gzip: number;
}

/** Builds the console into outdir (dist/console by default); each file's sizes by path. */
export function buildConsole(outdir?: string): Promise<Record<string, BuiltFile>>;
