// @ts-check
// Camera and microphone for Client (backchannel.js): asking for the devices
// before joining, turning them on and off, and publishing a track added
// later.

import { Connection } from "./connection.js";

export class Media extends Connection {
  /** Gets media (if asked), joins, and resolves once chat is open. */
  async connect() {
    if (this.options.stream) {
      this.localStream = this.options.stream;
    } else if (this.options.camera || this.options.microphone) {
      await this._getMedia(!!this.options.camera, !!this.options.microphone);
    }
    if (!this.localStream) this.localStream = new MediaStream();
    this.cameraOn = this.localStream.getVideoTracks().some((t) => t.enabled);
    this.microphoneOn = this.localStream.getAudioTracks().some((t) => t.enabled);
    this._emit("localtrack", {});
    return super.connect();
  }

  /**
   * Turns the camera on or off (asking for it the first time).
   * @param {boolean} on
   */
  async setCamera(on) {
    return this._setDevice("video", on);
  }

  /**
   * Turns the microphone on or off (asking for it the first time).
   * @param {boolean} on
   */
  async setMicrophone(on) {
    return this._setDevice("audio", on);
  }

  /**
   * @param {"video"|"audio"} kind
   * @param {boolean} on
   * @returns {Promise<boolean>} whether the device is on now
   */
  async _setDevice(kind, on) {
    if (!this.localStream) this.localStream = new MediaStream();
    let tracks = kind === "video" ? this.localStream.getVideoTracks() : this.localStream.getAudioTracks();
    if (on && tracks.length === 0) {
      tracks = await this._getMedia(kind === "video", kind === "audio");
      if (tracks.length && this._pub) {
        for (const t of tracks) this._pub.addTrack(t, this.localStream);
        this._offer().catch((err) => console.warn("backchannel: renegotiation", err));
      }
    }
    // Disabled tracks send black frames and silence: no renegotiation, and
    // the device comes back instantly.
    for (const t of tracks) t.enabled = on;
    const now = tracks.length > 0 && on;
    if (kind === "video") this.cameraOn = now;
    else this.microphoneOn = now;
    this._emit("localtrack", { kind });
    return now;
  }

  /**
   * Asks for the devices; joins without one that fails (see mediaerror).
   * @param {boolean} video
   * @param {boolean} audio
   * @returns {Promise<MediaStreamTrack[]>}
   */
  async _getMedia(video, audio) {
    /** @type {MediaStreamConstraints} */
    const constraints = {
      video: video ? this.options.videoConstraints || { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } } : false,
      audio: audio ? { echoCancellation: true, noiseSuppression: true } : false,
    };
    /** @param {MediaStream} s */
    const keep = (s) => {
      if (!this.localStream) this.localStream = s;
      else for (const t of s.getTracks()) this.localStream.addTrack(t);
      return s.getTracks();
    };
    try {
      return keep(await navigator.mediaDevices.getUserMedia(constraints));
    } catch (err) {
      // Join without the device rather than not at all; the caller sees
      // the error through the event and the camera/mic state.
      this._emit("mediaerror", { error: err, video, audio });
      if (!(video && audio)) return [];
      // One device may work without the other.
      /** @type {MediaStreamTrack[]} */
      const tracks = [];
      for (const [v, a] of [[true, false], [false, true]]) {
        try {
          tracks.push(...keep(await navigator.mediaDevices.getUserMedia({ video: v && constraints.video, audio: a && constraints.audio })));
        } catch {
          /* that one is unavailable too */
        }
      }
      return tracks;
    }
  }
}
