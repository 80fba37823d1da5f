CREATE TABLE "camera_grants" (
	"user_id" uuid NOT NULL,
	"camera_id" uuid NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "camera_grants_user_id_camera_id_pk" PRIMARY KEY("user_id","camera_id")
);
--> statement-breakpoint
CREATE TABLE "camera_viewers" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"max_sessions" integer NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cameras" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"stream" text NOT NULL,
	"title" text NOT NULL,
	"location" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "cameras_stream_unique" UNIQUE("stream")
);
--> statement-breakpoint
ALTER TABLE "camera_grants" ADD CONSTRAINT "camera_grants_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "camera_grants" ADD CONSTRAINT "camera_grants_camera_id_cameras_id_fk" FOREIGN KEY ("camera_id") REFERENCES "public"."cameras"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "camera_viewers" ADD CONSTRAINT "camera_viewers_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "camera_grants_camera_idx" ON "camera_grants" USING btree ("camera_id");