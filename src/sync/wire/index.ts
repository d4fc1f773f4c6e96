// The Git wire format, transport-neutral and platform-neutral: pkt-lines, side-band, capabilities and the
// messages of upload-pack (v0/v1 and v2) and receive-pack. Pure codecs over Uint8Array and async iterables.
export { BadPktLineError, ProtocolError, RemoteError } from './errors.js'
export {
  MAX_PKT_LENGTH, MAX_PKT_DATA, FLUSH_PKT, DELIM_PKT, RESPONSE_END_PKT,
  encodePktLine, encodeTextLine, decodePktLines, pktText, byteChunks, PktLineWriter, PktLineReader,
} from './pkt-line.js'
export type { Pkt, ByteSource } from './pkt-line.js'
export {
  SIDEBAND_DATA, SIDEBAND_PROGRESS, SIDEBAND_ERROR, SIDEBAND_MAX_PKT_LENGTH, SIDEBAND_64K_MAX_PKT_LENGTH,
  encodeSideband, encodeSidebandStream, decodeSidebandPkt, demuxSideband,
} from './sideband.js'
export type { SidebandChannel, DemuxOptions } from './sideband.js'
export { ZERO_ID, readLine, readTextLine, expectFlush, wireRefProblem } from './lines.js'
export type { Line } from './lines.js'
export { Capabilities } from './capabilities.js'
export type { Capability } from './capabilities.js'
export {
  formatServiceHeader, formatRefAdvertisement, formatV2Advertisement, readAdvertisement, symrefsOf,
} from './advertisement.js'
export type { AdvertisedRef, RefAdvertisement, RefAdvertisementInit, V2Advertisement, Advertisement } from './advertisement.js'
export {
  formatCommandRequest, readCommandRequest, formatLsRefsArgs, parseLsRefsArgs, formatLsRefsResponse, readLsRefsResponse,
  formatFetchArgs, parseFetchArgs, formatFetchResponse, readFetchResponse,
} from './v2.js'
export type { CommandRequest, LsRefsArgs, LsRef, FetchArgs, Acknowledgments, FetchResponseHead, FetchResponse } from './v2.js'
export {
  formatUploadRequest, readUploadRequest, formatHaves, readHaves, formatAck, formatNak, parseAck, readAck,
  formatShallowUpdate, readShallowUpdate,
} from './upload-pack.js'
export type { UploadRequest, UploadRequestInit, Ack, ShallowUpdate } from './upload-pack.js'
export { formatReceiveRequest, readReceiveRequest, formatReportStatus, readReportStatus } from './receive-pack.js'
export type { RefUpdate, ReceiveRequest, ReceiveRequestInit, RefStatus, RefStatusOptions, ReportStatus } from './receive-pack.js'
export {
  formatGitProtoRequest, parseGitProtoRequest, readGitProtoRequest, parseProtocolParameters, protocolVersion,
} from './git-proto.js'
export type { GitProtoRequest } from './git-proto.js'
