import { association, constants } from 'dcmjs-dimse';
import { DECODABLE_TRANSFER_SYNTAXES } from '../../worker/src/volume';
import {
  ACCEPTED_TRANSFER_SYNTAXES, checkAeTitles, negotiatePresentationContexts, STORED_NOT_DECODED_TRANSFER_SYNTAXES,
} from './association-negotiation';

const { PresentationContextResult: Result, RejectReason } = constants;
const PET = '1.2.840.10008.5.1.4.1.1.128';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const policy = { aeTitle: 'MIPSEG', allowedCallingAeTitles: [] as string[] };

function proposal(...contexts: [string, ...string[]][]): association.Association {
  const request = new association.Association('SCU', 'MIPSEG');
  for (const [abstractSyntax, ...transferSyntaxes] of contexts) {
    const id = request.addPresentationContext(abstractSyntax);
    for (const ts of transferSyntaxes) request.addTransferSyntaxToPresentationContext(id, ts);
  }
  return request;
}

test('accepts the called AE title and any calling AE title when the allow-list is empty', () => {
  expect(checkAeTitles('ANYONE', 'MIPSEG', policy)).toBeUndefined();
});

test('rejects another called AE title (reason 7) and a calling AE title off the allow-list (reason 3), naming the catalogue code', () => {
  expect(checkAeTitles('ANYONE', 'OTHER', policy)).toMatchObject({ reason: RejectReason.CalledAeNotRecognized, code: 'MIPSEG_AE_TITLE_REFUSED' });
  const allowList = { ...policy, allowedCallingAeTitles: ['PACS'] };
  expect(checkAeTitles('ANYONE', 'MIPSEG', allowList)).toMatchObject({ reason: RejectReason.CallingAeNotRecognized, code: 'MIPSEG_AE_TITLE_REFUSED' });
  expect(checkAeTitles('PACS', 'MIPSEG', allowList)).toBeUndefined();
});

test('an AE@address entry takes that AE title only from that address (an IPv4 peer may show as ::ffff:a.b.c.d)', () => {
  const tied = { ...policy, allowedCallingAeTitles: ['PACS@10.0.0.5', 'CT@fd00::1'] };
  expect(checkAeTitles('PACS', 'MIPSEG', tied, '10.0.0.5')).toBeUndefined();
  expect(checkAeTitles('PACS', 'MIPSEG', tied, '::ffff:10.0.0.5')).toBeUndefined();
  expect(checkAeTitles('CT', 'MIPSEG', tied, 'FD00::1')).toBeUndefined();
  expect(checkAeTitles('CT', 'MIPSEG', tied, 'fd00:0:0:0::1')).toBeUndefined();
  // A link-local peer with its zone, as node reports it: compared, not thrown on.
  expect(checkAeTitles('CT', 'MIPSEG', tied, 'fe80::1%eth0')).toMatchObject({ reason: RejectReason.CallingAeNotRecognized });
  expect(checkAeTitles('PACS', 'MIPSEG', tied, '10.0.0.6')).toMatchObject({ reason: RejectReason.CallingAeNotRecognized,
    why: 'calling AE title "PACS" from 10.0.0.6 is not on the allow-list' });
  expect(checkAeTitles('PACS', 'MIPSEG', tied)).toMatchObject({ reason: RejectReason.CallingAeNotRecognized });
});

test('passes over a proposed syntax it stores but cannot decode (big endian) when another it accepts is proposed', () => {
  const request = proposal(
    [PET, '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2'],
    [PET, '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1'],
  );
  negotiatePresentationContexts(request);
  expect(request.getPresentationContexts().map(({ context }) => context.getAcceptedTransferSyntaxUid()))
    .toEqual(['1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.1']);
});

test('rejects a context offering only Big Endian (result 4) when another context for its SOP class offers Little Endian, for any SOP class', () => {
  const request = proposal(
    [PET, '1.2.840.10008.1.2.2'], [PET, '1.2.840.10008.1.2.1', '1.2.840.10008.1.2'], [PET, '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.4.50'],
    [CT, '1.2.840.10008.1.2.2'], [CT, '1.2.840.10008.1.2'],
  );
  const accepted = negotiatePresentationContexts(request);
  expect(request.getPresentationContexts().map(({ context }) => [context.getResult(), context.getAcceptedTransferSyntaxUid()])).toEqual([
    [Result.RejectTransferSyntaxesNotSupported, '1.2.840.10008.1.2.2'], [Result.Accept, '1.2.840.10008.1.2.1'],
    // A lossy JPEG the sender may hold only, and not be willing to decompress: still taken as it is.
    [Result.Accept, '1.2.840.10008.1.2.4.50'],
    [Result.RejectTransferSyntaxesNotSupported, '1.2.840.10008.1.2.2'], [Result.Accept, '1.2.840.10008.1.2'],
  ]);
  expect(accepted).toHaveLength(3);
});

test.each(['1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.5', '1.2.840.10008.1.2.4.90'])(
  'accepts a Big Endian-only context when the other context for its SOP class offers only compressed %s (an SCU holding a file in each could not send the BE one)',
  (compressed) => {
    const request = proposal([CT, compressed], [CT, '1.2.840.10008.1.2.2']);
    const accepted = negotiatePresentationContexts(request);
    expect(request.getPresentationContexts().map(({ context }) => [context.getResult(), context.getAcceptedTransferSyntaxUid()])).toEqual([
      [Result.Accept, compressed], [Result.Accept, '1.2.840.10008.1.2.2'],
    ]);
    expect(accepted).toHaveLength(2);
  },
);

test('within one context still takes a syntax it decodes over Big Endian, with or without Little Endian proposed elsewhere', () => {
  const request = proposal(
    [CT, '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.4.70'], [CT, '1.2.840.10008.1.2.4.80'],
    [PET, '1.2.840.10008.1.2.2', '1.2.840.10008.1.2'], [PET, '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.5'],
  );
  negotiatePresentationContexts(request);
  expect(request.getPresentationContexts().map(({ context }) => context.getAcceptedTransferSyntaxUid())).toEqual([
    '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2', '1.2.840.10008.1.2.5',
  ]);
});

test('accepts Big Endian where no context for that SOP class offers a syntax it decodes (stored, not analysed)', () => {
  const request = proposal([PET, '1.2.840.10008.1.2.2'], [PET, '1.2.840.10008.1.2.4.50'], [CT, '1.2.840.10008.1.2.1']);
  negotiatePresentationContexts(request);
  expect(request.getPresentationContexts().map(({ context }) => [context.getResult(), context.getAcceptedTransferSyntaxUid()])).toEqual([
    [Result.Accept, '1.2.840.10008.1.2.2'], [Result.Accept, '1.2.840.10008.1.2.4.50'], [Result.Accept, '1.2.840.10008.1.2.1'],
  ]);
});

test('stores lossy JPEG and HTJ2K as sent when nothing else is proposed (a PACS forwarding what it holds)', () => {
  const request = proposal([PET, '1.2.840.10008.1.2.4.50'], [PET, '1.2.840.10008.1.2.4.51'], [PET, '1.2.840.10008.1.2.4.203']);
  negotiatePresentationContexts(request);
  expect(request.getPresentationContexts().map(({ context }) => [context.getResult(), context.getAcceptedTransferSyntaxUid()])).toEqual([
    [Result.Accept, '1.2.840.10008.1.2.4.50'], [Result.Accept, '1.2.840.10008.1.2.4.51'], [Result.Accept, '1.2.840.10008.1.2.4.203'],
  ]);
});

test('takes RLE Lossless when it is proposed first, as the worker decodes it', () => {
  const request = proposal([PET, '1.2.840.10008.1.2.5', '1.2.840.10008.1.2.1']);
  negotiatePresentationContexts(request);
  expect(request.getPresentationContexts().map(({ context }) => context.getAcceptedTransferSyntaxUid()))
    .toEqual(['1.2.840.10008.1.2.5']);
});

test('accepts for storage exactly what the worker decodes, plus the syntaxes it names as stored but not decoded', () => {
  const decodable = new Set(DECODABLE_TRANSFER_SYNTAXES);
  for (const uid of ACCEPTED_TRANSFER_SYNTAXES) expect([uid, decodable.has(uid) !== STORED_NOT_DECODED_TRANSFER_SYNTAXES.has(uid)]).toEqual([uid, true]);
  for (const uid of decodable) expect([uid, ACCEPTED_TRANSFER_SYNTAXES.has(uid)]).toEqual([uid, true]);
});

test('takes the first proposed transfer syntax it supports, and rejects what it cannot store', () => {
  const request = proposal(
    [PET, '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2'],
    [PET, '1.2.840.10008.1.2.4.70'],
    [PET, '1.2.840.10008.1.2.4.100'],
    [PET, '1.2.840.10008.1.2.1.99'],
    ['1.2.840.10008.5.1.4.1.1.6.1', '1.2.840.10008.1.2'],
    ['1.2.840.10008.1.1', '1.2.840.10008.1.2'],
  );
  const accepted = negotiatePresentationContexts(request);
  const results = request.getPresentationContexts().map(({ context }) => [context.getResult(), context.getAcceptedTransferSyntaxUid()]);
  expect(results).toEqual([
    [Result.Accept, '1.2.840.10008.1.2.1'],
    [Result.Accept, '1.2.840.10008.1.2.4.70'],
    [Result.RejectTransferSyntaxesNotSupported, '1.2.840.10008.1.2.4.100'],
    [Result.RejectTransferSyntaxesNotSupported, '1.2.840.10008.1.2.1.99'],
    [Result.RejectAbstractSyntaxNotSupported, '1.2.840.10008.1.2'],
    [Result.Accept, '1.2.840.10008.1.2'],
  ]);
  expect(accepted).toHaveLength(3);
});
