// Camera and microphone for Client (backchannel.js): asking for the devices,
// turning them on and off, and publishing a track added later. Installed on
// Client.prototype; `this` is the Client.

export const devices = {
  /** Turns the camera on or off (asking for it the first time). */
  async setCamera(on) {
    return this._setDevice("video", on);
  },

  /** Turns the microphone on or off (asking for it the first time). */
  async setMicrophone(on) {
    return this._setDevice("audio", on);
  },

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
  },

  // Asks for the devices; joins without one that fails (see mediaerror).
  async _getMedia(video, audio) {
    const constraints = {
      video: video ? this.options.videoConstraints || { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } } : false,
      audio: audio ? { echoCancellation: true, noiseSuppression: true } : false,
    };
    try {
      const s = await navigator.mediaDevices.getUserMedia(constraints);
      if (!this.localStream) {
        this.localStream = s;
      } else {
        for (const t of s.getTracks()) this.localStream.addTrack(t);
      }
      return s.getTracks();
    } catch (err) {
      // Join without the device rather than not at all; the caller sees
      // the error through the event and the camera/mic state.
      this._emit("mediaerror", { error: err, video, audio });
      if (video && audio) {
        // One device may work without the other.
        const tracks = [];
        for (const [v, a] of [[true, false], [false, true]]) {
          try {
            const s = await navigator.mediaDevices.getUserMedia({ video: v && constraints.video, audio: a && constraints.audio });
            if (!this.localStream) this.localStream = s;
            else for (const t of s.getTracks()) this.localStream.addTrack(t);
            tracks.push(...s.getTracks());
          } catch {
            /* that one is unavailable too */
          }
        }
        return tracks;
      }
      return [];
    }
  },
};
