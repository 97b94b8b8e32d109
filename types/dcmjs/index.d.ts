// dcmjs ships no type declarations; this covers the parts mipseg uses.
declare module 'dcmjs' {
  export interface DicomJsonElement {
    vr?: string;
    Value?: unknown[];
    InlineBinary?: string;
    BulkDataURI?: string;
    _rawValue?: unknown;
  }
  export type DicomJsonDict = Record<string, DicomJsonElement>;
  export interface ReadOptions {
    ignoreErrors?: boolean;
    untilTag?: string | null;
    includeUntilTagValue?: boolean;
    noCopy?: boolean;
    forceStoreRaw?: boolean;
  }
  export class DicomDict {
    constructor(meta: DicomJsonDict);
    meta: DicomJsonDict;
    dict: DicomJsonDict;
    write(options?: { allowInvalidVRLength?: boolean; fragmentMultiframe?: boolean }): ArrayBuffer;
  }
  /** A VR's reader and writer (dcmjs's ValueRepresentation instances); only what mipseg touches. */
  export interface ValueRepresentationInstance {
    readonly type: string;
    read(stream: unknown, length: number, syntax: string, options?: unknown): unknown;
  }
  export const data: {
    DicomMessage: { readFile(buffer: ArrayBuffer, options?: ReadOptions): DicomDict };
    ValueRepresentation: {
      createByTypeString(type: string): ValueRepresentationInstance;
      /** The reader of an explicit UN element whose tag the dictionary knows, by the dictionary's VR. */
      parseUnknownVr(type: string): ValueRepresentationInstance;
    };
    DicomDict: typeof DicomDict;
    DicomMetaDictionary: {
      naturalizeDataset(dict: DicomJsonDict): Record<string, unknown>;
      denaturalizeDataset(ds: Record<string, unknown>): DicomJsonDict;
      uid(): string;
      date(): string;
      time(): string;
      nameMap: Record<string, { tag: string; vr: string; name: string }>;
      dictionary: Record<string, { tag: string; vr: string; name: string }>;
    };
  };
  /** A loglevel logger; dcmjs's validation messages go to its child 'validation.dcmjs'. */
  export interface LoglevelLogger {
    setLevel(level: string, persist?: boolean): void;
  }
  export const log: LoglevelLogger & { getLogger(name: string): LoglevelLogger };
  const dcmjs: { data: typeof data; log: typeof log };
  export default dcmjs;
}
