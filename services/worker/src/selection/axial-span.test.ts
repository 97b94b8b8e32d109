import { axialSpanMm, type SlicePlacement } from './axial-span';

const axial = (z: number): SlicePlacement => ({ position: [-300, -300, z], normal: [0, 0, 1] });

describe('axialSpanMm', () => {
  test('is the distance between the outermost slices along the normal, plus one spacing, in any order', () => {
    expect(axialSpanMm([axial(0), axial(-276)], 4)).toBeCloseTo(280, 6);
    expect(axialSpanMm([axial(-276), axial(0)], 4)).toBeCloseTo(280, 6);
    // The outermost of several: the first and last slices of each bed position, in any order.
    expect(axialSpanMm([axial(-100), axial(-276), axial(0), axial(-180)], 4)).toBeCloseTo(280, 6);
  });

  test('counts only the distance along the normal: a table shift across the slice plane adds nothing', () => {
    const last: SlicePlacement = { position: [-250, -310, -276], normal: [0, 0, 1] };
    expect(axialSpanMm([axial(0), last], 4)).toBeCloseTo(280, 6);
  });
});
