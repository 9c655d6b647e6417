// The opening hall's WebSocket (docs/opening.md §5): the room client of every room, under the names
// the hall's page knows it by.

export {
  FrameTooLarge,
  RoomClient as HallClient,
  RoomDisconnected as HallDisconnected,
  RoomError as HallError,
} from "./room.js";
