import { expect, it } from 'vitest';
import { startHerald } from '../helpers/herald.js';
import { freePort } from '../helpers/net.js';

it('refuses to share its port with a second server, and the port is free again after a stop', async () => {
  const port = await freePort();
  const first = await startHerald({ server: { port } });
  await expect(startHerald({ server: { port } })).rejects.toThrow(/cannot listen/);
  await first.stop();
  const again = await startHerald({ server: { port } });
  expect(again.port).toBe(port);
  await again.stop();
});
