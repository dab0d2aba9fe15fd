// What every stand-in shares at run time: the values baked in at publish time, call logging and fault lookup.
import {
  type CallExtra,
  readToolDelay,
  recordCall,
  type ToolCommand,
  type ToolFault,
  type ToolName,
  takeToolFault,
} from '../control.ts';

declare const __STANDIN_CONTROL_DIR__: string;
declare const __STANDIN_VERSION__: string;
declare const __STANDIN_ARCH__: string;

export interface Baked {
  controlDir: string;
  version: string;
  /** The architecture in the asset name (amd64, arm64). */
  arch: string;
  /** Published for another CPU than the runner's: it must not run. */
  foreign: boolean;
}

export function baked(): Baked {
  // typeof guards keep the module importable (tests, typecheck) when it was not built with the defines.
  const controlDir = typeof __STANDIN_CONTROL_DIR__ === 'string' ? __STANDIN_CONTROL_DIR__ : '';
  const version = typeof __STANDIN_VERSION__ === 'string' ? __STANDIN_VERSION__ : '0.0.0-dev';
  const archValue = typeof __STANDIN_ARCH__ === 'string' ? __STANDIN_ARCH__ : hostArch();
  if (!controlDir || controlDir.startsWith('@@')) {
    process.stderr.write('stand-in: built without a control directory; use test/world/standins/publish.ts\n');
    process.exit(125);
  }
  const [arch = hostArch(), mark] = archValue.split(':');
  return { controlDir, version, arch, foreign: mark === 'foreign' };
}

export function hostArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** A binary for another CPU cannot run: mimic the kernel refusing it so a wrong-arch install is caught. */
export function checkArch(b: Baked, name: string): void {
  if (b.foreign) {
    process.stderr.write(
      `${name}: cannot execute binary file: Exec format error (stand-in built for linux/${b.arch})\n`,
    );
    process.exit(126);
  }
}

export function logCall(
  b: Baked,
  tool: ToolName,
  argv: readonly string[],
  command: string,
  extra: CallExtra = {},
): void {
  try {
    recordCall(b.controlDir, tool, argv, command, extra);
  } catch (error) {
    process.stderr.write(`stand-in: could not record the call: ${(error as Error).message}\n`);
  }
}

export function takeFault(b: Baked, tool: ToolName, command: ToolCommand): ToolFault | undefined {
  // Every working command passes here once, so the latency model's time for it is spent here.
  spendDelay(b, tool, command);
  try {
    return takeToolFault(b.controlDir, tool, command);
  } catch (error) {
    process.stderr.write(`stand-in: could not read faults: ${(error as Error).message}\n`);
    return undefined;
  }
}

/** `hang`: sleep until killed, like a tool stuck on a dead connection. */
export function hangForever(): Promise<never> {
  setInterval(() => {}, 1 << 30);
  return new Promise<never>(() => {});
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Exit after stdout/stderr drained (process.exit may cut piped output short). */
export async function exitAfterFlush(code: number): Promise<never> {
  await Promise.all([
    new Promise<void>((resolve) => process.stdout.write('', () => resolve())),
    new Promise<void>((resolve) => process.stderr.write('', () => resolve())),
  ]);
  process.exit(code);
}

/** Blocks for the command's delay from the control directory (a benchmark's stand-in for real work). */
function spendDelay(b: Baked, tool: ToolName, command: ToolCommand): void {
  let ms = 0;
  try {
    ms = readToolDelay(b.controlDir, tool, command);
  } catch (error) {
    process.stderr.write(`stand-in: could not read delays: ${(error as Error).message}\n`);
  }
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
