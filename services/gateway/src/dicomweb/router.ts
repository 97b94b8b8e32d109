import { Router } from 'express';
import type { Config } from '@mipseg/shared/config';
import type { Logger } from '@mipseg/shared/log';
import type { Archive } from '@mipseg/shared/store';
import { deleteInstanceHandler, deleteSeriesHandler, deleteStudyHandler, type StudyDeletionGuard } from './delete-study';
import { searchHandler } from './qido';
import { storeInstancesHandler } from './stow';
import {
  retrieveBulkDataHandler,
  retrieveFramesHandler,
  retrieveHandler,
  retrieveMetadataHandler,
  retrieveRenderedHandler,
} from './wado';

const STUDY = '/studies/:study';
const SERIES = `${STUDY}/series/:series`;
const INSTANCE = `${SERIES}/instances/:instance`;

/** The DICOMweb routes (PS3.18): STOW-RS, QIDO-RS, WADO-RS; and deleting a study, series or instance, which PS3.18 leaves out. */
export function dicomwebRouter(archive: Archive, config: Config, log: Logger, deletionGuard?: StudyDeletionGuard): Router {
  const r = Router();
  // Every DICOMweb answer's body is chosen by Accept (JSON or XML, a transfer syntax, multipart or not): a cache between
  // clients (a proxy, a browser) must not hand one client's form to another, as Express's ETags would let it.
  r.use((_req, res, next) => {
    res.vary('Accept');
    next();
  });
  r.post('/studies', storeInstancesHandler(archive, config, log));
  r.post(STUDY, storeInstancesHandler(archive, config, log));
  r.delete(STUDY, deleteStudyHandler(archive, config, log, deletionGuard));
  r.delete(SERIES, deleteSeriesHandler(archive, config, log, deletionGuard));
  r.delete(INSTANCE, deleteInstanceHandler(archive, config, log, deletionGuard));

  r.get('/studies', searchHandler(archive, config, log, 'study'));
  r.get('/series', searchHandler(archive, config, log, 'series'));
  r.get('/instances', searchHandler(archive, config, log, 'instance'));
  r.get(`${STUDY}/series`, searchHandler(archive, config, log, 'series'));
  r.get(`${STUDY}/instances`, searchHandler(archive, config, log, 'instance'));
  r.get(`${SERIES}/instances`, searchHandler(archive, config, log, 'instance'));

  for (const path of [STUDY, SERIES, INSTANCE]) {
    r.get(path, retrieveHandler(archive));
    r.get(`${path}/metadata`, retrieveMetadataHandler(archive, log));
  }
  r.get(`${INSTANCE}/frames/:frames`, retrieveFramesHandler(archive));
  r.get(`${INSTANCE}/bulkdata/:tag`, retrieveBulkDataHandler(archive));
  r.get(`${INSTANCE}/rendered`, retrieveRenderedHandler(archive));
  r.get(`${INSTANCE}/frames/:frames/rendered`, retrieveRenderedHandler(archive));
  return r;
}
