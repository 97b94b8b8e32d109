import { fromAcrNemaDate, fromAcrNemaTime } from './legacy-date-time';

test('an ACR-NEMA date (yyyy.mm.dd) loses its dots; any other value is only trimmed', () => {
  expect(['2014.10.23', ' 2014.10.23 ', '20141023', '2014.1.23', '23.10.2014', ''].map(fromAcrNemaDate))
    .toEqual(['20141023', '20141023', '20141023', '2014.1.23', '23.10.2014', '']);
});

test('an ACR-NEMA time (hh:mm[:ss[.frac]]) loses its colons; any other value is only trimmed', () => {
  expect(['08:00', '08:00:30', '08:00:30.123456 ', '080030', '8:00', '08:00:30.1234567'].map(fromAcrNemaTime))
    .toEqual(['0800', '080030', '080030.123456', '080030', '8:00', '08:00:30.1234567']);
});
