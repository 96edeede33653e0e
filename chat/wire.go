package chat

import "github.com/backchannel-rtc/backchannel/protocol"

// The wire types are protocol's. These aliases keep chat's own code and the
// recorder compiling unchanged while the recorder split and the room
// isolation work, which edit the same files, land; they are temporary. New
// code names the protocol types, and once those branches are merged the
// aliases go (a mechanical rename of chat.Message to protocol.Message and
// so on).
type (
	Message     = protocol.Message
	Attachment  = protocol.Attachment
	Reaction    = protocol.Reaction
	Kind        = protocol.Kind
	Code        = protocol.Code
	Participant = protocol.Participant
)

const (
	KindText  = protocol.KindText
	KindImage = protocol.KindImage
	KindFile  = protocol.KindFile

	CodeBadPacket      = protocol.CodeBadPacket
	CodePacketTooLarge = protocol.CodePacketTooLarge
	CodeUnknownType    = protocol.CodeUnknownType
	CodeEmpty          = protocol.CodeEmpty
	CodeTooLong        = protocol.CodeTooLong
	CodeRateLimited    = protocol.CodeRateLimited
	CodeForbidden      = protocol.CodeForbidden
	CodeNotFound       = protocol.CodeNotFound
	CodeMuted          = protocol.CodeMuted
	CodeTooMany        = protocol.CodeTooMany
	CodeUnavailable    = protocol.CodeUnavailable
	CodeRejected       = protocol.CodeRejected
)
