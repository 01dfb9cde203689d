// The portal's Content-Security-Policy: its own scripts and styles only, no inline script, forms
// posting back to itself, no framing. The web phone page adds its Janus gateway to connect-src.
import type { PortalConfig } from './config.js';

export function contentSecurityPolicy(config: PortalConfig, connect: string[] = []): string {
  const logo = config.brand.logoUrl && /^https?:/.test(config.brand.logoUrl) ? ` ${new URL(config.brand.logoUrl).origin}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data:${logo}`,
    `connect-src 'self'${connect.map((c) => ` ${c}`).join('')}`,
    "media-src 'self' blob: mediastream:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
}
