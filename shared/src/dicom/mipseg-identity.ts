/** Manufacturer (0008,0070) of every instance mipseg writes: receivers recognise mipseg's results by it. */
export const MIPSEG_MANUFACTURER = 'mipseg';
