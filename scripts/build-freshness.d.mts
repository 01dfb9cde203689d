export const root: string;
export const stampPath: string;
export function sourcesMtimeMs(): number;
export function buildIsFresh(): boolean;
