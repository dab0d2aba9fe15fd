import type { Annotation, Log, LogSink } from '../../src/log.ts';

export interface Recorded {
  level: 'info' | 'warning' | 'error' | 'notice' | 'debug';
  message: string;
  at?: Annotation;
}

/** A Log that records what a stage said, for assertions. */
export class RecordingLog implements Log {
  readonly lines: Recorded[] = [];
  private add(level: Recorded['level'], message: string, at?: Annotation) {
    this.lines.push(at ? { level, message, at } : { level, message });
  }
  info(message: string) {
    this.add('info', message);
  }
  warning(message: string, at?: Annotation) {
    this.add('warning', message, at);
  }
  error(message: string, at?: Annotation) {
    this.add('error', message, at);
  }
  notice(message: string, at?: Annotation) {
    this.add('notice', message, at);
  }
  debug(message: string) {
    this.add('debug', message);
  }
  of(level: Recorded['level']): Recorded[] {
    return this.lines.filter((line) => line.level === level);
  }
}

/** A LogSink that keeps the runner's log in memory, so unit tests print nothing. */
export class MemorySink implements LogSink {
  readonly lines: string[] = [];
  startGroup(title: string) {
    this.lines.push(`::group::${title}`);
  }
  endGroup() {
    this.lines.push('::endgroup::');
  }
  info(message: string) {
    this.lines.push(message);
  }
  warning(message: string) {
    this.lines.push(`warning: ${message}`);
  }
  error(message: string) {
    this.lines.push(`error: ${message}`);
  }
  notice(message: string) {
    this.lines.push(`notice: ${message}`);
  }
  debug(message: string) {
    this.lines.push(`debug: ${message}`);
  }
}
