import * as Server from '../../services/gateway/src/worklist/worklist-types';
import * as Page from '../../services/web/src/api-types';

/** True only when A and B are assignable both ways. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// Checked by the type checker (npm run typecheck): a field changed on one side only fails to compile.
const agree: [
  Same<Server.WorklistPage, Page.WorklistPage>,
  Same<Server.StudyDetail, Page.StudyDetail>,
  Same<Server.SegmentMipResponse, Page.SegmentMipResponse>,
  Same<Server.StudiesChangedEvent, Page.StudiesChangedEvent>,
  Same<Server.StreamPingEvent, Page.StreamPingEvent>,
] = [true, true, true, true, true];

test('the page\'s copy of the worklist API types is the server\'s', () => {
  expect(agree.every(Boolean)).toBe(true);
  expect(Page.AI_STATES).toEqual(Server.AI_STATES);
});
