import { ErrorCode, parseProtocolVersion } from '../../protocol/codes.js';
import { admitConnection, refuse, type Admitted } from '../rules/admission.js';
import type { ServerContext } from '../rules/context.js';

export interface HandshakeInput {
  key: string;
  protocol: string | undefined;
  origin: string;
  secure: boolean;
}

/** The checks of section 1.2, in that order; the first failure decides the close code. */
export function checkHandshake(input: HandshakeInput, ctx: ServerContext): Admitted {
  const app = ctx.apps.byKey(input.key);
  if (!app) return refuse(ErrorCode.AppNotFound);
  if (app.requireTls && !input.secure) return refuse(ErrorCode.SslOnly);
  if (!app.enabled) return refuse(ErrorCode.AppDisabled);
  if (parseProtocolVersion(input.protocol) === null) return refuse(ErrorCode.UnsupportedProtocol);
  return admitConnection(ctx, app, input.origin);
}
