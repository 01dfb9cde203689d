// A CDR longer than the max_duration its call was authorized for: charged in full (the call
// happened), but the switch let it run past what was reserved, so the operator is told.
import type { Ctx } from '../context.js';
import { cdrsOverLimit } from '../metrics.js';
import type { ParsedCdr } from './call-decisions.js';

export function warnOverLimit(ctx: Ctx, cdr: ParsedCdr, limitSeconds: number): void {
  cdrsOverLimit.inc();
  ctx.log.warn({ uniqueid: cdr.uniqueid, answered_seconds: cdr.answered, max_duration: limitSeconds },
    'CDR longer than its authorized max_duration: make the dialplan enforce LL_MAX_DURATION (Dial L() or TIMEOUT(absolute))');
}
