import * as core from '@actions/core';

export interface Annotation {
  file: string;
  line: number;
}

/** A stage's log. Lines go out live while the stage holds the floor, else they wait for it. */
export interface Log {
  info(message: string): void;
  warning(message: string, at?: Annotation): void;
  error(message: string, at?: Annotation): void;
  notice(message: string, at?: Annotation): void;
  debug(message: string): void;
}

type Line = () => void;

/** Where lines finally go: the runner's log in production. */
export interface LogSink {
  startGroup(title: string): void;
  endGroup(): void;
  info(message: string): void;
  warning(message: string, props?: core.AnnotationProperties): void;
  error(message: string, props?: core.AnnotationProperties): void;
  notice(message: string, props?: core.AnnotationProperties): void;
  debug(message: string): void;
}

const props = (at?: Annotation): core.AnnotationProperties | undefined =>
  at ? { file: at.file, startLine: at.line } : undefined;

/**
 * Concurrent stages share one log: a single stage at a time writes live inside its own group;
 * the others buffer and take the floor in turn, so every group holds one stage's lines.
 */
export class LogFloor {
  private holder: StageLog | undefined;
  private readonly waiting: StageLog[] = [];

  constructor(readonly sink: LogSink = core) {}

  open(title: string): StageLog {
    const log = new StageLog(title, this);
    if (this.holder) this.waiting.push(log);
    else this.take(log);
    return log;
  }

  /** @internal */
  take(log: StageLog): void {
    this.holder = log;
    this.sink.startGroup(log.title);
    log.flush();
  }

  /** @internal */
  isHolder(log: StageLog): boolean {
    return this.holder === log;
  }

  /** @internal */
  release(log: StageLog): void {
    if (this.holder !== log) return;
    this.sink.endGroup();
    this.holder = undefined;
    // Finished stages flush whole; the first still running one then keeps the floor.
    while (this.waiting.length > 0 && !this.holder) {
      const next = this.waiting.shift()!;
      this.take(next);
      if (next.closed) {
        this.sink.endGroup();
        this.holder = undefined;
      }
    }
  }
}

export class StageLog implements Log {
  private buffer: Line[] = [];
  closed = false;

  constructor(
    readonly title: string,
    private readonly floor: LogFloor,
  ) {}

  private emit(line: Line): void {
    if (this.floor.isHolder(this)) line();
    else this.buffer.push(line);
  }

  /** @internal */
  flush(): void {
    for (const line of this.buffer) line();
    this.buffer = [];
  }

  close(): void {
    this.closed = true;
    this.floor.release(this);
  }

  info(message: string): void {
    this.emit(() => this.floor.sink.info(message));
  }
  warning(message: string, at?: Annotation): void {
    this.emit(() => this.floor.sink.warning(message, props(at)));
  }
  error(message: string, at?: Annotation): void {
    this.emit(() => this.floor.sink.error(message, props(at)));
  }
  notice(message: string, at?: Annotation): void {
    this.emit(() => this.floor.sink.notice(message, props(at)));
  }
  debug(message: string): void {
    this.emit(() => this.floor.sink.debug(message));
  }
}
