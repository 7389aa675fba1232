/** Splits an SSE body into its `data:` payloads, checking the framing on the way. */
export function parseSse(body: string): { events: string[]; framingErrors: string[] } {
  const events: string[] = [];
  const framingErrors: string[] = [];
  const blocks = body.split('\n\n');
  if (blocks.at(-1) !== '') framingErrors.push('body does not end with a blank line');
  for (const block of blocks.slice(0, -1)) {
    const lines = block.split('\n');
    if (lines.length !== 1) framingErrors.push(`event is not a single line: ${JSON.stringify(block)}`);
    for (const line of lines) {
      if (!line.startsWith('data: ')) framingErrors.push(`line is not 'data: ...': ${JSON.stringify(line)}`);
      else events.push(line.slice('data: '.length));
    }
  }
  return { events, framingErrors };
}
