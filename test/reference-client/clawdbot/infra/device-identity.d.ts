export function loadOrCreateDeviceIdentity(filePath?: string): { deviceId: string; publicKeyPem: string; privateKeyPem: string };
