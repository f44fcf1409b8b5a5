/**
 * Tracer: what each stage decided for the frames of a traced batch (in the spirit of
 * `ovs-appctl ofproto/trace`). Stages add records only when a tracer is attached to the batch.
 */
export interface TraceRecord {
  stage: string;
  row: number;
  decision: string;
  detail?: Record<string, unknown>;
}

export class Tracer {
  readonly records: TraceRecord[] = [];

  add(stage: string, row: number, decision: string, detail?: Record<string, unknown>): void {
    this.records.push(detail ? { stage, row, decision, detail } : { stage, row, decision });
  }

  forRow(row: number): TraceRecord[] {
    return this.records.filter((r) => r.row === row);
  }

  format(row = 0): string {
    return this.forRow(row)
      .map((r) => `${r.stage.padEnd(10)} ${r.decision}`)
      .join('\n');
  }
}
