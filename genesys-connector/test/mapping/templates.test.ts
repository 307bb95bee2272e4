import { customerWindow, type Template } from '@bridge/shared';
import { agentTemplateCommand, hasAttachments, reopenTemplateOf, templateParameterText, windowClosedReason, windowClosedSentence } from '../../src/mapping/templates';
import type { GenesysOutboundMessage } from '../../src/mapping';

/** The agent's template command, template parameter text, and what the agent reads after the window. */
const agent = (text: string | undefined, content?: GenesysOutboundMessage['content']): GenesysOutboundMessage => ({ id: 'g-1', type: 'Text', text, content });
const image = { contentType: 'Attachment', attachment: { mediaType: 'Image', url: 'https://cdn.example.com/a.png', mime: 'image/png' } };

describe('agentTemplateCommand', () => {
  it('reads the name, the language and one parameter per line (blank lines before the command ignored)', () => {
    expect(agentTemplateCommand(agent('\n  /template order_update en_US\r\nAna\r\n#4411\n\n'))).toEqual({ name: 'order_update', language: 'en_US', parameters: ['Ana', '#4411'] });
    expect(agentTemplateCommand(agent('/template reopen en'))).toEqual({ name: 'reopen', language: 'en', parameters: [] });
  });

  it('is not one for ordinary text, or text that merely mentions it', () => {
    expect(agentTemplateCommand(agent('Hello'))).toBeUndefined();
    expect(agentTemplateCommand(agent('/templates are next week'))).toBeUndefined();
    expect(agentTemplateCommand(agent('See /template order_update en_US'))).toBeUndefined();
    expect(agentTemplateCommand(agent(undefined, [image]))).toBeUndefined();
  });

  it('a malformed one, or one with attachments, says what to write instead', () => {
    expect(agentTemplateCommand(agent('/template order_update'))).toEqual({ error: expect.stringContaining('needs a name and a language') });
    expect(agentTemplateCommand(agent('/template Order-Update en_US'))).toEqual({ error: expect.stringContaining('is not a template name') });
    expect(agentTemplateCommand(agent('/template order_update english'))).toEqual({ error: expect.stringContaining('is not a language code') });
    expect(agentTemplateCommand(agent('/template order_update en_US\nAna', [image]))).toEqual({ error: expect.stringContaining('remove the attachments') });
  });

  it('gives each parameter as WhatsApp takes it: no tab, no run of more than four spaces', () => {
    expect(agentTemplateCommand(agent('/template order_update en_US\nAna\tMaria\n#4411      (urgent)'))).toMatchObject({ parameters: ['Ana Maria', '#4411 (urgent)'] });
  });
});

describe('templateParameterText', () => {
  it('turns every run of whitespace holding a line break or tab, or of five spaces or more, into one space', () => {
    expect(templateParameterText('Good morning!\n\nYour parcel is here.\r\n  Thanks\tagain')).toBe('Good morning! Your parcel is here. Thanks again');
    expect(templateParameterText('a    b     c')).toBe('a    b c');
    expect(templateParameterText('  ok  ')).toBe('ok');
  });
});

describe('after the window', () => {
  const catalogue: Template[] = [
    { name: 'order_update', language: 'en_US', templateId: '1', category: 'UTILITY', status: 'APPROVED', components: [{ type: 'BODY', text: 'Hi {{1}}, order {{2}} shipped.' }] },
    { name: 'promo', language: 'en_US', templateId: '2', category: 'MARKETING', status: 'PAUSED', components: [{ type: 'BODY', text: 'Sale' }] },
  ];
  const last = new Date('2025-01-01T10:00:00.000Z');
  const closed = customerWindow(last, new Date('2025-01-02T10:01:00.000Z'));

  it('tells when the window closed and when the customer last wrote, or that they never did', () => {
    expect(windowClosedSentence(last, closed)).toBe("The customer's 24-hour window closed on 2025-01-02T10:00:00.000Z (their last message was at 2025-01-01T10:00:00.000Z)");
    expect(windowClosedSentence(null, customerWindow(null))).toBe('The customer has not written to this number');
  });

  it('says how to send a template, listing the approved ones', () => {
    expect(windowClosedReason('text', last, closed, catalogue)).toBe(
      "The customer's 24-hour window closed on 2025-01-02T10:00:00.000Z (their last message was at 2025-01-01T10:00:00.000Z); " +
        'WhatsApp only lets you send an approved template now: write "/template <name> <language>" on the first line, then one parameter per line. ' +
        'Approved templates: order_update (en_US): 2 parameter(s).',
    );
    expect(windowClosedReason('attachments', null, customerWindow(null), [])).toBe(
      'The customer has not written to this number; WhatsApp takes no attachments now, only an approved template: ' +
        'write "/template <name> <language>" on the first line, then one parameter per line. This account has no approved templates.',
    );
  });
});

describe('small readers', () => {
  it('hasAttachments and reopenTemplateOf', () => {
    expect(hasAttachments(agent('x', [image]))).toBe(true);
    expect(hasAttachments(agent('x'))).toBe(false);
    expect(reopenTemplateOf({ name: 'reopen', language: 'en_US' })).toEqual({ name: 'reopen', language: 'en_US' });
    expect(reopenTemplateOf({ name: 'reopen' })).toBeUndefined();
    expect(reopenTemplateOf(null)).toBeUndefined();
  });
});
