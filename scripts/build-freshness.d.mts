export const root: string;
export const stampPath: string;
export function buildIsFresh(): boolean;
